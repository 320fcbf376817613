//! The log as lists, newest first: filtered for readers of the whole log, and per user.

use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::{EVENT_COLUMNS, EventRow, Store};
use crate::domain::{AuditEvent, Filter};

/// One page of one user's trail: events with `seq` below `before`, at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrailKey {
    pub user: Uuid,
    pub limit: i64,
    pub before: Option<i64>,
}

impl Store {
    /// Events matching `filter` with `seq` below `before`, newest first, at most `limit`. Each
    /// filter adds its own condition, so the planner sees plain comparisons it can serve from
    /// the matching index.
    pub async fn events(
        &self,
        filter: &Filter,
        before: Option<i64>,
        limit: i64,
    ) -> sqlx::Result<Vec<AuditEvent>> {
        let mut q: QueryBuilder<'_, Postgres> =
            QueryBuilder::new(format!("SELECT {EVENT_COLUMNS} FROM audit_log WHERE true"));
        if let Some(actor) = &filter.actor {
            q.push(" AND actor = ").push_bind(actor);
        }
        if let Some(kind) = &filter.kind {
            q.push(" AND type = ").push_bind(kind);
        }
        if let Some(subject) = &filter.subject {
            q.push(" AND subject = ").push_bind(subject);
        }
        if let Some(from) = filter.from {
            q.push(" AND occurred_at >= ").push_bind(from);
        }
        if let Some(to) = filter.to {
            q.push(" AND occurred_at < ").push_bind(to);
        }
        if let Some(before) = before {
            q.push(" AND seq < ").push_bind(before);
        }
        q.push(" ORDER BY seq DESC LIMIT ").push_bind(limit);
        let rows: Vec<EventRow> = q.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(AuditEvent::from).collect())
    }

    /// Pages of several users' trails in one statement: for each key, the events the user
    /// caused (actor) or that are about them (subject), newest first. Each side is read from
    /// its own index up to the page size, then the two are merged.
    pub async fn trails(&self, keys: &[TrailKey]) -> sqlx::Result<Vec<(TrailKey, AuditEvent)>> {
        let users: Vec<String> = keys.iter().map(|k| k.user.to_string()).collect();
        let limits: Vec<i64> = keys.iter().map(|k| k.limit).collect();
        let befores: Vec<i64> = keys.iter().map(|k| k.before.unwrap_or(i64::MAX)).collect();
        let sql = format!(
            "SELECT k.idx, {EVENT_COLUMNS} \
             FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY \
                  AS k(user_id, lim, before_seq, idx) \
             CROSS JOIN LATERAL ( \
                 SELECT {EVENT_COLUMNS} FROM audit_log \
                 WHERE seq IN ( \
                     (SELECT seq FROM audit_log WHERE actor = k.user_id AND seq < k.before_seq \
                      ORDER BY seq DESC LIMIT k.lim) \
                     UNION \
                     (SELECT seq FROM audit_log WHERE subject = k.user_id AND seq < k.before_seq \
                      ORDER BY seq DESC LIMIT k.lim)) \
                 ORDER BY seq DESC LIMIT k.lim) e \
             ORDER BY k.idx, e.seq DESC"
        );
        let rows: Vec<TrailRow> = sqlx::query_as(&sql)
            .bind(&users)
            .bind(&limits)
            .bind(&befores)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let key = usize::try_from(row.idx - 1)
                    .ok()
                    .and_then(|i| keys.get(i))?;
                Some((*key, AuditEvent::from(row.event)))
            })
            .collect())
    }
}

#[derive(sqlx::FromRow)]
struct TrailRow {
    idx: i64,
    #[sqlx(flatten)]
    event: EventRow,
}
