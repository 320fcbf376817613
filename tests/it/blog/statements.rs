//! What one response costs the database: `tessera_db_statements_total` read from `/metrics`
//! around a query through the router, for 50 posts and for 10.

use serde_json::json;
use tessera_tests::TestPlatform;

use super::{PASSWORD, comment, draft, id_of, published, router};

/// The query of the statement-count test: every post, its author, tags, comments, their authors
/// and replies.
const FEED: &str = "query($first: Int!) { posts(first: $first) { edges { node { title \
    author { id displayName } tags { name } comments(first: 5) { edges { node { body \
    author { displayName } replies { body } } } } } } } }";

/// `tessera_db_statements_total{service, origin="request"}` from the service's `/metrics`.
async fn request_statements(p: &TestPlatform, service: &str) -> u64 {
    let series = format!("tessera_db_statements_total{{service=\"{service}\",origin=\"request\"}}");
    p.metric(service, &series)
        .await
        .unwrap_or_else(|| panic!("{service} reports no {series}"))
}

/// Statements blog and identity sent for one `FEED` of `first` posts.
async fn feed_cost(p: &TestPlatform, first: usize) -> (u64, u64) {
    let before = (
        request_statements(p, "blog").await,
        request_statements(p, "identity").await,
    );
    let r = router(p, FEED, json!({ "first": first }), None).await.ok();
    let edges = r.data("posts.edges").as_array().expect("edges");
    assert_eq!(edges.len(), first);
    for edge in edges {
        let post = &edge["node"];
        assert!(post["author"]["displayName"].is_string(), "{post}");
        assert_eq!(post["tags"].as_array().map(Vec::len), Some(2), "{post}");
        let comments = post["comments"]["edges"].as_array().expect("comments");
        assert_eq!(comments.len(), 2, "{post}");
        for c in comments {
            assert!(c["node"]["author"]["displayName"].is_string(), "{c}");
            assert_eq!(
                c["node"]["replies"].as_array().map(Vec::len),
                Some(1),
                "{c}"
            );
        }
    }
    let after = (
        request_statements(p, "blog").await,
        request_statements(p, "identity").await,
    );
    (after.0 - before.0, after.1 - before.1)
}

#[tokio::test]
async fn a_page_of_fifty_posts_costs_the_statements_of_a_page_of_ten() {
    // A batch loader gathers the keys one level of the response asks for during a short
    // window. A debug build on a busy machine resolves 50 posts (or 100 comments) more slowly
    // than the production window, which would split a batch in two; the window here is wide
    // enough that each level lands in one batch.
    let p = TestPlatform::builder()
        .blog_batch_delay(100)
        .start()
        .await
        .expect("platform");
    let mut authors = Vec::new();
    for i in 0..5 {
        let email = format!("author{i}@example.com");
        authors.push(p.registered(&email, PASSWORD, &format!("Author {i}")).await);
    }
    // 50 published posts by five authors, each with two tags, two comments by other authors
    // and a reply to each comment; and drafts, which anonymous readers never see.
    let posts = futures::future::join_all((0..50).map(|n| {
        let (p, authors) = (&p, &authors);
        async move {
            let author = &authors[n % 5];
            let tags = [format!("topic-{}", n % 7), format!("series-{}", n % 3)];
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            let id = published(p, author, &format!("Post {n}"), &tags).await;
            for k in 1..=2 {
                let commenter = &authors[(n + k) % 5];
                let top = comment(p, commenter, &id, &format!("Comment {k} on {n}"), None).await;
                let reply = comment(p, author, &id, "Thanks", Some(&id_of(&top.ok()))).await;
                reply.ok();
            }
            id
        }
    }))
    .await;
    assert_eq!(posts.len(), 50);
    for author in &authors {
        draft(&p, author, "Work in progress", &["draft"]).await;
    }

    // Only statements of requests count: the outbox relay, event consumers and readiness
    // checks count under origins of their own, so background work cannot move these numbers.
    // A scheduler starved for longer than the batch window could still split a batch, which
    // only ever adds statements: the cheapest of three runs is the designed cost, while an N+1
    // costs at least one statement per post in every run.
    let mut fifty = (u64::MAX, u64::MAX);
    let mut ten = (u64::MAX, u64::MAX);
    for _ in 0..3 {
        let (blog, identity) = feed_cost(&p, 50).await;
        fifty = (fifty.0.min(blog), fifty.1.min(identity));
        let (blog, identity) = feed_cost(&p, 10).await;
        ten = (ten.0.min(blog), ten.1.min(identity));
    }
    // Blog: the page of posts, then one statement each for the tags of all posts, the comment
    // pages of all posts, and the replies of all comments.
    assert_eq!(fifty.0, 4, "blog statements for 50 posts");
    assert_eq!(ten.0, 4, "blog statements for 10 posts");
    // Identity: post authors and comment authors are fetched in the same step with the same
    // operation, so the router sends them in one `_entities` request, which identity's loader
    // answers with one statement.
    assert_eq!(fifty.1, 1, "identity statements for 50 posts");
    assert_eq!(ten.1, 1, "identity statements for 10 posts");
    p.shutdown().await;
}
