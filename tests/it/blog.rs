//! The blog through the router: the publishing workflow, search, slugs, who may do what,
//! pagination and threading; events on the broker ([`events`]); subscriptions ([`live`]); and a
//! statement count that does not grow with the number of posts in a response ([`statements`]).

mod events;
mod live;
mod statements;

use serde_json::{Value, json};
use tessera_tests::platform::Session;
use tessera_tests::{Gql, TestPlatform};

const PASSWORD: &str = "correct horse battery";

const CREATE: &str =
    "mutation($i: CreatePostInput!) { createPost(input: $i) { id slug status title } }";
const UPDATE: &str = "mutation($i: UpdatePostInput!) { updatePost(input: $i) { id slug title status tags { name } } }";
const PUBLISH: &str = "mutation($id: ID!) { publishPost(id: $id) { id status publishedAt } }";
const ARCHIVE: &str = "mutation($id: ID!) { archivePost(id: $id) { id status } }";
const COMMENT: &str = "mutation($i: AddCommentInput!) { addComment(input: $i) { id parentId } }";

async fn router(p: &TestPlatform, query: &str, variables: Value, who: Option<&Session>) -> Gql {
    p.gql("router", query, variables, who.map(|s| s.access.as_str()))
        .await
}

/// Creates a draft; returns `createPost`.
async fn draft(p: &TestPlatform, who: &Session, title: &str, tags: &[&str]) -> Value {
    let input = json!({ "title": title, "body": format!("All about {title}."), "tags": tags });
    router(p, CREATE, json!({ "i": input }), Some(who))
        .await
        .ok()
        .data("createPost")
        .clone()
}

/// Creates and publishes a post; returns its id.
async fn published(p: &TestPlatform, who: &Session, title: &str, tags: &[&str]) -> String {
    let id = draft(p, who, title, tags).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    router(p, PUBLISH, json!({ "id": id }), Some(who))
        .await
        .ok();
    id
}

async fn comment(
    p: &TestPlatform,
    who: &Session,
    post: &str,
    body: &str,
    parent: Option<&str>,
) -> Gql {
    let input = json!({ "postId": post, "body": body, "parentId": parent });
    router(p, COMMENT, json!({ "i": input }), Some(who)).await
}

fn id_of(r: &Gql) -> String {
    r.data("addComment.id").as_str().expect("id").to_owned()
}

/// A signed-up user whose token carries `blog:moderate` (granted as authorization grants
/// scopes: a row in auth's granted scopes, read at sign-in).
async fn moderator(p: &TestPlatform, email: &str) -> Session {
    let s = p.registered(email, PASSWORD, "Mod").await;
    let auth = p.db.pool("auth").await.expect("pool");
    sqlx::query("INSERT INTO granted_scopes (user_id, scope) VALUES ($1::uuid, 'blog:moderate')")
        .bind(&s.user_id)
        .execute(&auth)
        .await
        .expect("grant");
    TestPlatform::session_of(&p.login(email, PASSWORD).await.ok(), "login")
}

fn titles(r: &Gql, path: &str) -> Vec<String> {
    r.data(path)["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["title"].as_str().expect("title").to_owned())
        .collect()
}
#[tokio::test]
async fn publishes_a_post_takes_comments_and_finds_it_by_search() {
    let p = TestPlatform::start().await.expect("platform");
    let ada = p.registered("ada@example.com", PASSWORD, "Ada").await;
    let bob = p.registered("bob@example.com", PASSWORD, "Bob").await;
    let input = json!({ "title": "Notes on the Analytical Engine",
        "body": "# Engines\nThe engine weaves algebraic patterns.", "tags": ["Maths", "history"] });
    let r = router(&p, CREATE, json!({ "i": input }), Some(&ada))
        .await
        .ok();
    let id = r.data("createPost.id").as_str().expect("id").to_owned();
    assert_eq!(r.data("createPost.status"), "DRAFT");
    assert_eq!(r.data("createPost.slug"), "notes-on-the-analytical-engine");
    let other = draft(&p, &ada, "Unfinished engine thoughts", &[]).await;

    // A draft takes no comments and is not found by search.
    let early = comment(&p, &bob, &id, "First!", None).await;
    assert_eq!(early.code(), Some("NOT_FOUND"), "bob cannot see a draft");
    let own = comment(&p, &ada, &id, "Note to self", None).await;
    assert_eq!(own.code(), Some("CONFLICT"), "comments open on publication");
    let search = "query($q: String!) { searchPosts(query: $q) { edges { node { id title } } } }";
    let r = router(&p, search, json!({ "q": "engine" }), None)
        .await
        .ok();
    assert_eq!(r.data("searchPosts.edges"), &json!([]));

    let r = router(&p, PUBLISH, json!({ "id": id }), Some(&ada))
        .await
        .ok();
    assert_eq!(r.data("publishPost.status"), "PUBLISHED");
    assert!(r.data("publishPost.publishedAt").is_string());
    let top = comment(&p, &bob, &id, "Lovely patterns.", None).await.ok();
    let reply = comment(&p, &ada, &id, "Thank you!", Some(&id_of(&top)))
        .await
        .ok();
    assert_eq!(reply.data("addComment.parentId"), &json!(id_of(&top)));

    // Title words weigh more than body words; the draft stays out of every result.
    let r = router(&p, search, json!({ "q": "engine" }), None)
        .await
        .ok();
    assert_eq!(
        r.data("searchPosts.edges"),
        &json!([{ "node": { "id": id, "title": "Notes on the Analytical Engine" } }])
    );
    let r = router(&p, search, json!({ "q": "algebraic -nothing" }), None)
        .await
        .ok();
    assert_eq!(
        r.data("searchPosts.edges").as_array().map(Vec::len),
        Some(1)
    );
    let r = router(&p, search, json!({ "q": "unfinished" }), Some(&ada))
        .await
        .ok();
    assert_eq!(r.data("searchPosts.edges"), &json!([]), "{other}");

    let read = "query($s: String!) { postBySlug(slug: $s) { title body author { id displayName } \
        tags { name } comments { edges { node { body author { displayName } \
        replies { body author { displayName } } } } } } }";
    let r = router(
        &p,
        read,
        json!({ "s": "notes-on-the-analytical-engine" }),
        None,
    )
    .await
    .ok();
    assert_eq!(
        r.data("postBySlug"),
        &json!({
            "title": "Notes on the Analytical Engine",
            "body": "# Engines\nThe engine weaves algebraic patterns.",
            "author": { "id": ada.user_id, "displayName": "Ada" },
            "tags": [{ "name": "history" }, { "name": "maths" }],
            "comments": { "edges": [{ "node": {
                "body": "Lovely patterns.",
                "author": { "displayName": "Bob" },
                "replies": [{ "body": "Thank you!", "author": { "displayName": "Ada" } }],
            } }] },
        })
    );
    p.shutdown().await;
}

#[tokio::test]
async fn gives_each_title_a_unique_slug_that_survives_edits() {
    let p = TestPlatform::start().await.expect("platform");
    let ada = p.registered("ada@example.com", PASSWORD, "Ada").await;
    let mut slugs = Vec::new();
    for title in [
        "Hello, World!",
        "hello world",
        "Hello   World?",
        "Crème brûlée",
    ] {
        slugs.push(draft(&p, &ada, title, &[]).await["slug"].clone());
    }
    assert_eq!(
        slugs,
        [
            json!("hello-world"),
            json!("hello-world-2"),
            json!("hello-world-3"),
            json!("creme-brulee")
        ]
    );
    let first = draft(&p, &ada, "Stable links", &[]).await;
    let r = router(
        &p,
        UPDATE,
        json!({ "i": { "id": first["id"], "title": "Links that stay" } }),
        Some(&ada),
    )
    .await
    .ok();
    assert_eq!(r.data("updatePost.title"), "Links that stay");
    assert_eq!(r.data("updatePost.slug"), "stable-links");
    let by_slug = "query($s: String!) { postBySlug(slug: $s) { id title } }";
    let r = router(&p, by_slug, json!({ "s": "stable-links" }), Some(&ada))
        .await
        .ok();
    assert_eq!(r.data("postBySlug.id"), &first["id"]);
    // Another post with the old title still gets a slug of its own.
    assert_eq!(
        draft(&p, &ada, "Stable links", &[]).await["slug"],
        "stable-links-2"
    );
    p.shutdown().await;
}

#[tokio::test]
async fn authors_and_moderators_change_posts_and_strangers_cannot() {
    let p = TestPlatform::start().await.expect("platform");
    let ada = p.registered("ada@example.com", PASSWORD, "Ada").await;
    let eve = p.registered("eve@example.com", PASSWORD, "Eve").await;
    let max = moderator(&p, "max@example.com").await;
    let public = published(&p, &ada, "Public post", &[]).await;
    let hidden = draft(&p, &ada, "Private draft", &[]).await["id"].clone();

    let anonymous = router(
        &p,
        CREATE,
        json!({ "i": { "title": "x", "body": "y" } }),
        None,
    )
    .await;
    assert_eq!(anonymous.code(), Some("UNAUTHENTICATED"));
    let edit = |id: &Value, title: &str| json!({ "i": { "id": id, "title": title } });
    let r = router(&p, UPDATE, edit(&json!(public), "Mine now"), Some(&eve)).await;
    assert_eq!(r.code(), Some("FORBIDDEN"), "{}", r.body);
    let r = router(&p, ARCHIVE, json!({ "id": public }), Some(&eve)).await;
    assert_eq!(r.code(), Some("FORBIDDEN"));
    // A draft is invisible to strangers: it is not found rather than forbidden.
    let r = router(&p, UPDATE, edit(&hidden, "Found you"), Some(&eve)).await;
    assert_eq!(r.code(), Some("NOT_FOUND"));
    let one = "query($id: ID!) { post(id: $id) { title status } }";
    let r = router(&p, one, json!({ "id": hidden }), Some(&eve))
        .await
        .ok();
    assert_eq!(r.data("post"), &Value::Null);

    let list = "{ posts { edges { node { title } } } }";
    let visible = |who: Option<&Session>| {
        let p = &p;
        let who = who.cloned();
        async move {
            titles(
                &router(p, list, json!({}), who.as_ref()).await.ok(),
                "posts",
            )
        }
    };
    assert_eq!(visible(None).await, ["Public post"]);
    assert_eq!(visible(Some(&eve)).await, ["Public post"]);
    assert_eq!(visible(Some(&ada)).await, ["Private draft", "Public post"]);
    assert_eq!(visible(Some(&max)).await, ["Private draft", "Public post"]);

    // The moderator edits and archives anyone's post; the author edits their own.
    let r = router(&p, UPDATE, edit(&hidden, "Moderated draft"), Some(&max))
        .await
        .ok();
    assert_eq!(r.data("updatePost.title"), "Moderated draft");
    let r = router(
        &p,
        UPDATE,
        edit(&json!(public), "Public, edited"),
        Some(&ada),
    )
    .await
    .ok();
    assert_eq!(r.data("updatePost.title"), "Public, edited");
    let r = router(&p, ARCHIVE, json!({ "id": public }), Some(&max))
        .await
        .ok();
    assert_eq!(r.data("archivePost.status"), "ARCHIVED");
    // Archived: out of public view, read-only, and not publishable again.
    assert!(visible(None).await.is_empty());
    let r = router(&p, UPDATE, edit(&json!(public), "Again"), Some(&ada)).await;
    assert_eq!(r.code(), Some("CONFLICT"));
    let r = router(&p, PUBLISH, json!({ "id": public }), Some(&ada)).await;
    assert_eq!(r.code(), Some("CONFLICT"));
    let r = router(&p, ARCHIVE, json!({ "id": public }), Some(&ada)).await;
    assert_eq!(r.code(), Some("CONFLICT"));
    let r = router(&p, one, json!({ "id": public }), Some(&ada))
        .await
        .ok();
    assert_eq!(
        r.data("post.status"),
        "ARCHIVED",
        "the author still sees it"
    );

    // User.posts (through identity's `user`) follows the same rules.
    let theirs =
        "query($id: ID!) { user(id: $id) { displayName posts { edges { node { title } } } } }";
    let of_ada = json!({ "id": ada.user_id });
    let r = router(&p, theirs, of_ada.clone(), Some(&eve)).await.ok();
    assert_eq!(r.data("user.displayName"), "Ada");
    assert!(titles(&r, "user.posts").is_empty(), "{}", r.body);
    let r = router(&p, theirs, of_ada, Some(&ada)).await.ok();
    assert_eq!(
        titles(&r, "user.posts"),
        ["Moderated draft", "Public, edited"]
    );
    p.shutdown().await;
}

#[tokio::test]
async fn pages_through_posts_and_comments_with_opaque_cursors() {
    let p = TestPlatform::start().await.expect("platform");
    let ada = p.registered("ada@example.com", PASSWORD, "Ada").await;
    let bob = p.registered("bob@example.com", PASSWORD, "Bob").await;
    let mut ids = Vec::new();
    for i in 1..=5 {
        let tags: &[&str] = if i % 2 == 0 { &["even"] } else { &["odd"] };
        ids.push(published(&p, &ada, &format!("Post {i}"), tags).await);
    }
    for i in 1..=3 {
        comment(&p, &bob, &ids[0], &format!("Comment {i}"), None)
            .await
            .ok();
    }

    let page = "query($first: Int, $after: String, $filter: PostFilter) { \
        posts(first: $first, after: $after, filter: $filter) { \
        pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { title } } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let r = router(&p, page, json!({ "first": 2, "after": after }), None)
            .await
            .ok();
        seen.extend(titles(&r, "posts"));
        let info = r.data("posts.pageInfo").clone();
        assert_eq!(info["hasPreviousPage"], !after.is_null());
        if info["hasNextPage"] == false {
            break;
        }
        after = info["endCursor"].clone();
    }
    assert_eq!(seen, ["Post 5", "Post 4", "Post 3", "Post 2", "Post 1"]);

    let even = json!({ "filter": { "tag": "EVEN" } });
    let r = router(&p, page, even, None).await.ok();
    assert_eq!(titles(&r, "posts"), ["Post 4", "Post 2"]);
    let by_tag = "{ posts(first: 1, filter: { tag: \"odd\" }) { edges { node { tags { name \
        posts(first: 2) { pageInfo { hasNextPage } edges { node { title } } } } } } } }";
    let r = router(&p, by_tag, json!({}), None).await.ok();
    let tag = &r.data("posts.edges")[0]["node"]["tags"][0];
    assert_eq!(tag["name"], "odd");
    assert_eq!(tag["posts"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(tag["posts"]["edges"][1]["node"]["title"], "Post 3");

    let comments = "query($id: ID!, $after: String) { post(id: $id) { comments(first: 2, \
        after: $after) { pageInfo { hasNextPage endCursor } edges { node { body } } } } }";
    let r = router(&p, comments, json!({ "id": ids[0] }), None)
        .await
        .ok();
    let first = r.data("post.comments").clone();
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let after = first["pageInfo"]["endCursor"].clone();
    let r = router(&p, comments, json!({ "id": ids[0], "after": after }), None)
        .await
        .ok();
    assert_eq!(
        r.data("post.comments.edges"),
        &json!([{ "node": { "body": "Comment 3" } }])
    );

    for bad in [
        json!({ "first": 101 }),
        json!({ "first": -1 }),
        json!({ "after": "not-a-cursor" }),
        json!({ "filter": { "tag": "no such tag!" } }),
    ] {
        let r = router(&p, page, bad.clone(), None).await;
        assert_eq!(r.code(), Some("BAD_USER_INPUT"), "{bad}: {}", r.body);
    }
    p.shutdown().await;
}

#[tokio::test]
async fn refuses_replies_to_replies_and_input_beyond_the_limits() {
    let p = TestPlatform::start().await.expect("platform");
    let ada = p.registered("ada@example.com", PASSWORD, "Ada").await;
    let bob = p.registered("bob@example.com", PASSWORD, "Bob").await;
    let post = published(&p, &ada, "Threads", &[]).await;
    let other = published(&p, &ada, "Elsewhere", &[]).await;
    let top = id_of(&comment(&p, &bob, &post, "Top", None).await.ok());
    let reply = id_of(&comment(&p, &ada, &post, "Reply", Some(&top)).await.ok());

    let deeper = comment(&p, &bob, &post, "Reply to the reply", Some(&reply)).await;
    assert_eq!(deeper.code(), Some("REPLY_TOO_DEEP"), "{}", deeper.body);
    let astray = comment(&p, &bob, &other, "Wrong post", Some(&top)).await;
    assert_eq!(astray.code(), Some("NOT_FOUND"));
    let blank = comment(&p, &bob, &post, "   ", None).await;
    assert_eq!(blank.code(), Some("BAD_USER_INPUT"));
    let long = comment(&p, &bob, &post, &"x".repeat(5_001), None).await;
    assert_eq!(long.code(), Some("BAD_USER_INPUT"));

    let too_many: Vec<String> = (0..11).map(|i| format!("tag{i}")).collect();
    for input in [
        json!({ "title": "t".repeat(201), "body": "b" }),
        json!({ "title": " ", "body": "b" }),
        json!({ "title": "t", "body": "b".repeat(100_001) }),
        json!({ "title": "t", "body": "b", "tags": too_many }),
        json!({ "title": "t", "body": "b", "tags": ["x".repeat(33)] }),
        json!({ "title": "t", "body": "b", "tags": ["c++"] }),
    ] {
        let r = router(&p, CREATE, json!({ "i": input }), Some(&ada)).await;
        assert_eq!(r.code(), Some("BAD_USER_INPUT"), "{}", r.body);
    }
    let nothing = router(&p, UPDATE, json!({ "i": { "id": post } }), Some(&ada)).await;
    assert_eq!(nothing.code(), Some("BAD_USER_INPUT"));

    // Nested pages multiply: a hundred posts with a hundred comments each is refused before
    // anything is read.
    let huge = "{ posts(first: 100) { edges { node { comments(first: 100) { edges { node { \
        body replies { body } } } } } } } }";
    let r = p.query("blog", huge, None).await;
    assert_eq!(r.code(), Some("GRAPHQL_VALIDATION_FAILED"), "{}", r.body);
    p.shutdown().await;
}
