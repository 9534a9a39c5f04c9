//! Running again, dry runs, interruptions.

use reqwest::StatusCode;
use supabase_import::report::Changes;

use crate::helpers::*;
use crate::import::{fixture_counts, fixture_issues};

#[tokio::test]
async fn a_second_run_changes_nothing_and_says_so() {
    let f = Fixture::new().await;
    let first = f.import(|_| {}).await;
    assert!(!first.changed_nothing());
    let after_first = dump(&f.target).await;

    let second = f.import(|_| {}).await;
    assert!(second.completed);
    assert!(second.changed_nothing(), "{second}");
    let c = &second.counts;
    assert_eq!(
        c.users.changes,
        Changes {
            unchanged: 10,
            ..Changes::default()
        }
    );
    assert_eq!(
        c.passwords.changes,
        Changes {
            unchanged: 5,
            ..Changes::default()
        }
    );
    assert_eq!(
        c.identities.changes,
        Changes {
            unchanged: 3,
            ..Changes::default()
        }
    );
    assert_eq!(
        c.profiles.changes,
        Changes {
            unchanged: 5,
            ..Changes::default()
        }
    );
    // The categories still describe the source.
    assert_eq!(c.users.skipped, fixture_counts().users.skipped);
    assert_eq!(c.profiles.values_rejected, 1);
    assert_eq!(second.issues_by_category, fixture_issues());
    assert!(second
        .to_string()
        .contains("No changes: the target already matches the source."));
    assert!(second.verification.as_ref().is_some_and(|v| v.ok));
    assert_eq!(dump(&f.target).await, after_first);
}

#[tokio::test]
async fn a_rerun_keeps_upgraded_hashes_and_copies_what_changed_in_the_source() {
    let f = Fixture::new().await;
    f.import(|_| {}).await;
    // Alice signs in on the new system: her hash becomes argon2id.
    let auth = start_auth_server(&f.target).await;
    let http = reqwest::Client::new();
    session_for(&http, &auth, "alice@example.com", "alice-password-1").await;
    let upgraded = credential(&f.target, id::ALICE).await.expect("hash");
    assert!(upgraded.starts_with("$argon2id$"));
    // Meanwhile in Supabase: Bob renames himself and rewrites his profile, Carol
    // changes her password.
    let new_carol = bcrypt::hash("carol-new-password", 4).expect("bcrypt");
    let source = f.source.client().await;
    source
        .execute(
            "UPDATE auth.users SET raw_user_meta_data = '{\"name\": \"Robert\"}' WHERE id = $1",
            &[&id::BOB],
        )
        .await
        .expect("rename");
    source
        .execute(
            "UPDATE public.profiles SET bio = 'New bio' WHERE id = $1",
            &[&id::BOB],
        )
        .await
        .expect("bio");
    source
        .execute(
            "UPDATE auth.users SET encrypted_password = $2 WHERE id = $1",
            &[&id::CAROL, &new_carol],
        )
        .await
        .expect("password");

    let report = f.import(|_| {}).await;
    let c = &report.counts;
    assert_eq!(
        c.users.changes,
        Changes {
            updated: 1,
            unchanged: 9,
            ..Changes::default()
        }
    );
    assert_eq!(
        c.passwords.changes,
        Changes {
            updated: 1,
            unchanged: 4,
            ..Changes::default()
        }
    );
    assert_eq!(
        c.profiles.changes,
        Changes {
            updated: 1,
            unchanged: 4,
            ..Changes::default()
        }
    );
    assert_eq!(
        credential(&f.target, id::ALICE).await,
        Some(upgraded),
        "kept"
    );
    assert_eq!(credential(&f.target, id::CAROL).await, Some(new_carol));
    let row = f
        .target
        .client()
        .await
        .query_one(
            "SELECT u.name, p.bio, p.version, p.avatar_url FROM identity.users u
             JOIN learner.profiles p ON p.user_id = u.id WHERE u.id = $1",
            &[&id::BOB],
        )
        .await
        .expect("bob");
    assert_eq!(row.get::<_, String>(0), "Robert");
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("New bio"));
    assert_eq!(
        row.get::<_, i64>(2),
        2,
        "an update bumps the profile's version"
    );
    assert_eq!(
        row.get::<_, Option<String>>(3),
        None,
        "the refused avatar stays out"
    );
    let v = report.verification.expect("verification");
    assert!(v.ok, "{v:#?}");
    assert_eq!(v.rehashed_after_import, 1);
    // Alice still signs in.
    let res = sign_in(&http, &auth, "alice@example.com", "alice-password-1").await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_tells_what_would_happen() {
    let f = Fixture::new().await;
    let before = snapshot(&f.target).await;
    let report = f.import(|o| o.dry_run = true).await;
    assert!(report.dry_run && report.run_id.is_none() && report.verification.is_none());
    assert_eq!(
        report.counts,
        fixture_counts(),
        "exactly what a real run does"
    );
    assert_eq!(report.issues_by_category, fixture_issues());
    assert!(report.to_string().contains("DRY RUN"));
    assert!(report.to_string().contains("10 would be inserted"));
    assert_eq!(snapshot(&f.target).await, before, "a dry run wrote");

    // After a real import, a dry run finds nothing to do.
    f.import(|_| {}).await;
    let before = snapshot(&f.target).await;
    let again = f.import(|o| o.dry_run = true).await;
    assert!(again.changed_nothing());
    assert_eq!(snapshot(&f.target).await, before, "a dry run wrote");
}

#[tokio::test]
async fn an_interrupted_import_resumes_and_ends_like_an_uninterrupted_one() {
    let f = Fixture::new().await;
    // Interrupted after two batches of three users.
    let first = f
        .import(|o| {
            o.batch_size = 3;
            o.stop_after_batches = Some(2);
        })
        .await;
    assert!(!first.completed);
    assert_eq!(first.users_read, 6);
    assert!(first.verification.is_none());
    let status: String = f
        .target
        .client()
        .await
        .query_one("SELECT status FROM identity.import_runs", &[])
        .await
        .expect("run")
        .get(0);
    assert_eq!(status, "running");

    let resumed = f.import(|o| o.batch_size = 3).await;
    assert!(resumed.completed);
    assert_eq!(resumed.run_id, first.run_id, "the same run goes on");
    assert_eq!(resumed.resumed_after_batches, 2);
    assert_eq!(resumed.users_read, 9, "only the rest is read");
    assert_eq!(resumed.batches, 5);

    let other = f.another_target().await;
    let mut o = supabase_import::Options::new(f.source.url(), other.url());
    o.batch_size = 3;
    let straight = supabase_import::run(&o)
        .await
        .expect("uninterrupted import");

    assert_eq!(dump(&f.target).await, dump(&other).await);
    assert_eq!(resumed.counts, straight.counts);
    assert_eq!(resumed.counts, fixture_counts());
    let mut a = resumed.issues.clone();
    let mut b = straight.issues.clone();
    a.sort_by_key(|i| (i.user_id, i.category.clone()));
    b.sort_by_key(|i| (i.user_id, i.category.clone()));
    assert_eq!(a, b);
    assert!(resumed.verification.as_ref().is_some_and(|v| v.ok));
}

#[tokio::test]
async fn an_interrupted_run_with_other_options_needs_restart() {
    let f = Fixture::new().await;
    f.import(|o| {
        o.batch_size = 4;
        o.stop_after_batches = Some(1);
    })
    .await;
    let mut o = f.options();
    o.map = vec!["display_name=username".into()];
    let err = supabase_import::run(&o).await.expect_err("other options");
    assert!(err.to_string().contains("--restart"), "{err}");
    o.restart = true;
    let report = supabase_import::run(&o).await.expect("restart");
    assert!(report.completed && report.resumed_after_batches == 0);
    let statuses: Vec<String> = f
        .target
        .client()
        .await
        .query("SELECT status FROM identity.import_runs ORDER BY id", &[])
        .await
        .expect("runs")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(statuses, ["abandoned", "completed"]);
}
