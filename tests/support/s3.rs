//! The test S3 server (Garage, started by scripts/s3.sh) as the tests use it.

use std::process::Command;

pub fn var(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| {
        panic!("{k} is not set: run the suite through scripts/test.sh, which starts the S3 servers")
    })
}

/// A fresh bucket on the Garage server, usable with the test key.
pub fn bucket(tag: &str) -> String {
    let name = format!("{tag}-{}", std::process::id());
    let garage = |args: &[&str]| {
        let o = Command::new(var("JARC_TEST_GARAGE"))
            .arg("-c")
            .arg(var("JARC_TEST_GARAGE_CONFIG"))
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "garage {args:?}: {}", super::stderr(&o));
    };
    garage(&["bucket", "create", &name]);
    let key = var("JARC_TEST_S3_KEY");
    garage(&[
        "bucket", "allow", "--read", "--write", "--owner", &name, "--key", &key,
    ]);
    name
}

/// jarc with the repository's JARC_S3_* set for the Garage server (and
/// nothing inherited that could stand in for them).
pub fn repo_cmd(endpoint: &str, region: &str, secret: &str) -> Command {
    let mut c = super::bare();
    c.env_remove("JARC_REPOSITORY")
        .env_remove("JARC_FAILPOINT")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("JARC_S3_ENDPOINT", endpoint)
        .env("JARC_S3_REGION", region)
        .env("JARC_S3_ACCESS_KEY_ID", var("JARC_TEST_S3_KEY"))
        .env("JARC_S3_SECRET_ACCESS_KEY", secret);
    c
}
