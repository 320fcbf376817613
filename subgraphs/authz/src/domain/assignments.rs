//! Granting and revoking a role. Each change commits with its events: `role.granted` or
//! `role.revoked`, and, when the change touches a global assignment, `scopes.changed` with the
//! user's global permissions afterwards.
//!
//! Changes to one user's global assignments are serialized by the user's scope-version row, so
//! the permissions read after the change include every change committed before it, and the
//! version in `scopes.changed` orders the events: a consumer that sees a lower version than the
//! one it applied last ignores it.

use tessera_kit::db::Tx;
use tessera_kit::events::{Envelope, Outbox};
use uuid::Uuid;

use super::{Assignment, Role, event_types};
use crate::store::{self, changes};

/// Who asks for a change, and to whom it applies.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub user_id: Uuid,
    pub role: &'a Role,
    /// `None`: the global assignment.
    pub resource: Option<&'a str>,
    /// The caller; `None` for the service's own changes (bootstrap administrators).
    pub actor: Option<Uuid>,
}

impl Change<'_> {
    fn event(&self, kind: &str, data: serde_json::Value) -> Envelope {
        Envelope::new(
            crate::NAME,
            kind,
            self.user_id.to_string(),
            self.actor.map(|a| a.to_string()),
            data,
        )
    }

    /// Serializes against other changes of this user's global assignments; the new version.
    async fn lock(&self, tx: &mut Tx) -> sqlx::Result<Option<i64>> {
        match self.resource {
            None => changes::bump_scope_version(tx, self.user_id)
                .await
                .map(Some),
            Some(_) => Ok(None),
        }
    }

    /// Enqueues `scopes.changed` when the change touched the global assignment.
    async fn publish_scopes(
        &self,
        tx: &mut Tx,
        outbox: &Outbox,
        version: Option<i64>,
    ) -> sqlx::Result<()> {
        let Some(version) = version else {
            return Ok(());
        };
        let mut scopes = store::global_permissions(tx, self.user_id).await?;
        // Byte order, whatever the database's collation.
        scopes.sort();
        let event = self.event(
            event_types::SCOPES_CHANGED,
            serde_json::json!({ "userId": self.user_id, "scopes": scopes, "version": version }),
        );
        outbox.enqueue(tx, &event).await
    }
}

/// What a grant did.
#[derive(Debug, Clone)]
pub struct Granted {
    pub assignment: Assignment,
    /// False when the user already held the role there: nothing changed, nothing was published.
    pub created: bool,
}

/// Grants `change.role` to `change.user_id`. Granting what the user already holds is not an
/// error: the existing assignment comes back and no event is published.
pub async fn grant(tx: &mut Tx, outbox: &Outbox, change: Change<'_>) -> sqlx::Result<Granted> {
    let version = change.lock(tx).await?;
    let inserted = changes::insert_assignment(
        tx,
        change.user_id,
        change.role,
        change.resource,
        change.actor,
    )
    .await?;
    let Some(assignment) = inserted else {
        let existing = store::assignment(tx, change.user_id, change.role.id, change.resource)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        return Ok(Granted {
            assignment: existing,
            created: false,
        });
    };
    let granted = change.event(
        event_types::ROLE_GRANTED,
        serde_json::json!({
            "assignmentId": assignment.id,
            "userId": change.user_id,
            "roleId": change.role.id,
            "role": change.role.name,
            "resource": change.resource,
            "grantedBy": change.actor,
        }),
    );
    outbox.enqueue(tx, &granted).await?;
    change.publish_scopes(tx, outbox, version).await?;
    Ok(Granted {
        assignment,
        created: true,
    })
}

/// Revokes `change.role` from `change.user_id`; false (and no event) when the user did not
/// hold it there.
pub async fn revoke(tx: &mut Tx, outbox: &Outbox, change: Change<'_>) -> sqlx::Result<bool> {
    let version = change.lock(tx).await?;
    let Some(assignment_id) =
        changes::delete_assignment(tx, change.user_id, change.role.id, change.resource).await?
    else {
        return Ok(false);
    };
    let revoked = change.event(
        event_types::ROLE_REVOKED,
        serde_json::json!({
            "assignmentId": assignment_id,
            "userId": change.user_id,
            "roleId": change.role.id,
            "role": change.role.name,
            "resource": change.resource,
            "revokedBy": change.actor,
        }),
    );
    outbox.enqueue(tx, &revoked).await?;
    change.publish_scopes(tx, outbox, version).await?;
    Ok(true)
}
