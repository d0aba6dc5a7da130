//! Lua scripts run by hash, falling back to the script's text on the one
//! node that lacks it.
//!
//! redis-rs answers `NOSCRIPT` with `SCRIPT LOAD`, then `EVALSHA` again. On a
//! Redis Cluster `SCRIPT LOAD` fans out to the primaries of the client's slot
//! map, and right after a failover that map can still name the demoted
//! primaries: the newly promoted one (scripts are not replicated) never gets
//! the script and the second `EVALSHA` fails too (a login answered 500 in
//! CI). `EVAL` with the text is routed by the key like the `EVALSHA` was, so
//! it reaches exactly the node that said `NOSCRIPT`, and caches it there.

use redis::aio::ConnectionLike;
use redis::{Cmd, ErrorKind, FromRedisValue, RedisResult, ServerErrorKind, ToRedisArgs};

/// A Lua script and its SHA-1, computed once.
pub struct Script {
    code: &'static str,
    hash: String,
}

impl Script {
    pub fn new(code: &'static str) -> Self {
        Self {
            code,
            hash: redis::Script::new(code).get_hash().to_string(),
        }
    }

    /// Starts a call with its first key.
    pub fn key<T: ToRedisArgs>(&self, key: T) -> ScriptCall<'_> {
        let mut call = ScriptCall {
            script: self,
            keys: Vec::new(),
            args: Vec::new(),
        };
        call.key(key);
        call
    }
}

/// One call of a script: its keys (all in one hash slot on a cluster) and
/// arguments.
pub struct ScriptCall<'a> {
    script: &'a Script,
    keys: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
}

impl ScriptCall<'_> {
    pub fn key<T: ToRedisArgs>(&mut self, key: T) -> &mut Self {
        key.write_redis_args(&mut self.keys);
        self
    }

    pub fn arg<T: ToRedisArgs>(&mut self, arg: T) -> &mut Self {
        arg.write_redis_args(&mut self.args);
        self
    }

    /// `EVALSHA`, then `EVAL` with the text if this node does not know the
    /// script yet.
    ///
    /// # Errors
    /// Redis failed, or the script raised an error.
    pub async fn invoke_async<T: FromRedisValue>(
        &self,
        connection: &mut impl ConnectionLike,
    ) -> RedisResult<T> {
        match self
            .command("EVALSHA", &self.script.hash)
            .query_async(connection)
            .await
        {
            Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                self.command("EVAL", self.script.code)
                    .query_async(connection)
                    .await
            }
            outcome => outcome,
        }
    }

    fn command(&self, name: &str, script: &str) -> Cmd {
        let mut command = redis::cmd(name);
        command
            .arg(script)
            .arg(self.keys.len())
            .arg(&self.keys)
            .arg(&self.args);
        command
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECHO: &str = "return {KEYS[1], ARGV[1], ARGV[2]}";

    async fn connection(user: Option<(&str, &str)>) -> redis::aio::MultiplexedConnection {
        let url = match user {
            Some((name, password)) => format!("redis://{name}:{password}@127.0.0.1:6379/0"),
            None => "redis://127.0.0.1:6379/0".to_string(),
        };
        redis::Client::open(url)
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("Redis on 127.0.0.1:6379")
    }

    #[tokio::test]
    async fn a_script_runs_with_its_keys_and_arguments() {
        let script = Script::new(ECHO);
        let mut connection = connection(None).await;
        let reply: Vec<String> = script
            .key("k")
            .arg("a")
            .arg(2)
            .invoke_async(&mut connection)
            .await
            .expect("script ran");
        assert_eq!(reply, ["k", "a", "2"]);
    }

    /// A node the script was never loaded on, where `SCRIPT LOAD` cannot
    /// help (as on a promoted cluster replica the fan-out missed): an ACL
    /// user that may run scripts but not load them. The text goes with
    /// `EVAL` and the script is cached on that node for the next `EVALSHA`.
    #[tokio::test]
    async fn a_node_without_the_script_runs_it_from_its_text() {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let code: &'static str = format!("-- {unique}\n{ECHO}").leak();
        let script = Script::new(code);
        let mut admin = connection(None).await;
        let user = format!("tenk-script-test-{unique}");
        let _: () = redis::cmd("ACL")
            .arg(&[
                "SETUSER",
                &user,
                "on",
                ">secret",
                "~*",
                "+@all",
                "-script|load",
            ])
            .query_async(&mut admin)
            .await
            .expect("ACL SETUSER");
        let mut limited = connection(Some((&user, "secret"))).await;

        let first: RedisResult<Vec<String>> = script
            .key("k")
            .arg("a")
            .arg(1)
            .invoke_async(&mut limited)
            .await;
        let cached: Vec<bool> = redis::cmd("SCRIPT")
            .arg("EXISTS")
            .arg(&script.hash)
            .query_async(&mut admin)
            .await
            .expect("SCRIPT EXISTS");
        let _: RedisResult<()> = redis::cmd("ACL")
            .arg(&["DELUSER", &user])
            .query_async(&mut admin)
            .await;

        assert_eq!(first.expect("ran without SCRIPT LOAD"), ["k", "a", "1"]);
        assert_eq!(cached, [true]);
    }

    #[tokio::test]
    async fn a_script_error_is_returned_not_retried_as_text() {
        let script = Script::new("return redis.error_reply('BOOM from the script')");
        let mut connection = connection(None).await;
        let error = script
            .key("k")
            .invoke_async::<()>(&mut connection)
            .await
            .expect_err("the script's error");
        assert!(error.to_string().contains("BOOM"), "{error}");
    }
}
