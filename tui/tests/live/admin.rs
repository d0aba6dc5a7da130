//! The admin client against a live server: it logs in, finds a user's
//! sessions, revokes one (and that user's next request gets 401), revokes
//! all, and reports 401 / 403 / wrong credentials as such.

use std::time::Duration;

use tenk_tui::admin_client::AdminClient;
use tenk_tui::admin_error::AdminError;
use tenk_tui::command::{AdminAction, Credential, SessionQuery};
use tenk_tui::secret::Secret;

use crate::server::{PASSWORD, TestServer};

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

fn admin_client(server: &TestServer, token: Option<Secret>) -> AdminClient {
    AdminClient::new(
        http(),
        vec![server.url.clone()],
        token,
        Duration::from_secs(10),
    )
}

#[tokio::test]
async fn the_admin_client_revokes_a_session_and_that_users_next_request_gets_401() {
    // Arrange
    let server = TestServer::start();
    let admin_email = server.create_admin();
    let (user_email, user_id) = server.register_user(&http()).await;
    let phone = server.login(&http(), &user_email, "phone/1.0").await;
    let laptop = server.login(&http(), &user_email, "laptop/2.0").await;
    let admin = admin_client(&server, None);
    admin
        .login(
            0,
            &admin_email,
            &Credential::Password(Secret::new(PASSWORD)),
        )
        .await
        .expect("admin logs in");
    // Act: find the user's sessions by email, revoke the phone's.
    let sessions = admin
        .find_sessions(0, &SessionQuery::Email(user_email.clone()))
        .await
        .unwrap();
    let phone_session = sessions
        .iter()
        .find(|s| s.id == phone.session.id)
        .expect("the phone session is listed");
    assert_eq!(phone_session.user_agent, "phone/1.0");
    assert_eq!(phone_session.user_id, user_id);
    let revoked = admin
        .revoke(
            0,
            &AdminAction::Session {
                session_id: phone.session.id.clone(),
                user_id: user_id.clone(),
            },
        )
        .await;
    // Assert
    assert_eq!(revoked, Ok(1));
    assert_eq!(server.me_status(&http(), &phone.access_token).await, 401);
    assert_eq!(server.me_status(&http(), &laptop.access_token).await, 200);
    let left = admin
        .find_sessions(0, &SessionQuery::UserId(user_id.clone()))
        .await
        .unwrap();
    assert_eq!(
        left.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        vec![laptop.session.id.as_str()]
    );
    // Revoking it again: already gone.
    let again = admin
        .revoke(
            0,
            &AdminAction::Session {
                session_id: phone.session.id.clone(),
                user_id: user_id.clone(),
            },
        )
        .await;
    assert!(
        matches!(again, Err(AdminError::NotFound { .. })),
        "{again:?}"
    );
    // Revoke all: the laptop's ends too.
    let all = admin
        .revoke(
            0,
            &AdminAction::AllOfUser {
                user_id: user_id.clone(),
            },
        )
        .await;
    assert_eq!(all, Ok(1));
    assert_eq!(server.me_status(&http(), &laptop.access_token).await, 401);
    // Every action is in the audit log, newest first.
    let audit = admin.audit(0, None).await.unwrap();
    let actions: Vec<&str> = audit.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions[0], "user.sessions.revoke");
    assert!(actions.contains(&"session.revoke"));
}

#[tokio::test]
async fn refusals_say_why_401_403_and_wrong_credentials() {
    let server = TestServer::start();
    let (user_email, _) = server.register_user(&http()).await;
    // No token at all: 401 without asking the server.
    let anonymous = admin_client(&server, None);
    let query = SessionQuery::Email(user_email.clone());
    assert_eq!(
        anonymous.find_sessions(0, &query).await,
        Err(AdminError::Unauthorized)
    );
    // A token the server does not accept: 401 from the server.
    let forged = admin_client(&server, Some(Secret::new("not-a-jwt")));
    assert_eq!(
        forged.find_sessions(0, &query).await,
        Err(AdminError::Unauthorized)
    );
    // A wrong password.
    let wrong = anonymous
        .login(
            0,
            &user_email,
            &Credential::Password(Secret::new("wrong password 1")),
        )
        .await;
    assert_eq!(wrong, Err(AdminError::BadCredentials));
    // A user that is not an admin is refused at login (the role is
    // checked), and the session that login opened is closed again.
    let user = admin_client(&server, None);
    assert_eq!(
        user.login(0, &user_email, &Credential::Password(Secret::new(PASSWORD)))
            .await,
        Err(AdminError::NotAdmin {
            role: "user".into()
        })
    );
    assert_eq!(
        user.find_sessions(0, &query).await,
        Err(AdminError::Unauthorized),
        "no token kept"
    );
    // A user's own token used against the admin API: 403.
    let token = server.login(&http(), &user_email, "curl/8").await;
    let user = admin_client(&server, Some(Secret::new(token.access_token.clone())));
    assert_eq!(
        user.find_sessions(0, &query).await,
        Err(AdminError::Forbidden)
    );
    assert_eq!(user.audit(0, None).await, Err(AdminError::Forbidden));
    // As TENK_ADMIN_TOKEN, it is found out at start and forgotten.
    let from_env = admin_client(&server, Some(Secret::new(token.access_token)));
    let identity = from_env.whoami(0).await.unwrap();
    assert_eq!(
        (identity.email, identity.role.as_str()),
        (user_email, "user")
    );
    assert_eq!(
        from_env.find_sessions(0, &query).await,
        Err(AdminError::Unauthorized)
    );
}

#[tokio::test]
async fn a_new_login_logs_out_the_previous_one_and_an_unknown_email_or_id_is_no_such_user() {
    let server = TestServer::start();
    let admin_email = server.create_admin();
    let client = admin_client(&server, None);
    let password = Credential::Password(Secret::new(PASSWORD));
    let first = client.login(0, &admin_email, &password).await.unwrap();
    let second = client.login(0, &admin_email, &password).await.unwrap();
    assert_ne!(first.session_id, second.session_id);
    let sessions = client
        .find_sessions(0, &SessionQuery::UserId(second.user_id.clone()))
        .await
        .unwrap();
    let ids: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
    assert!(ids.contains(&second.session_id.as_str()), "{ids:?}");
    assert!(
        !ids.contains(&first.session_id.as_str()),
        "the first login was logged out: {ids:?}"
    );
    // No such user, by email or by id, distinct from a user without sessions.
    let nobody_email = SessionQuery::Email("nobody-here@example.com".into());
    let nobody_id = SessionQuery::UserId(uuid::Uuid::new_v4().to_string());
    for query in [nobody_email, nobody_id] {
        assert_eq!(
            client.find_sessions(0, &query).await,
            Err(AdminError::NoSuchUser(query.clone()))
        );
    }
    let (user_email, user_id) = server.register_user(&http()).await;
    for query in [
        SessionQuery::Email(user_email.clone()),
        SessionQuery::UserId(user_id),
    ] {
        assert_eq!(
            client.find_sessions(0, &query).await,
            Ok(Vec::new()),
            "{query:?}"
        );
    }
    // The audit log names the admin and the target user by email (the
    // command-line `create-admin` entry has no acting account).
    let audit = client.audit(0, None).await.unwrap();
    assert!(
        audit
            .items
            .iter()
            .filter(|e| !e.action.starts_with("cli."))
            .all(|e| e.actor_email.as_deref() == Some(admin_email.as_str())),
        "{:?}",
        audit.items
    );
    assert!(
        audit
            .items
            .iter()
            .any(|e| e.target_email.as_deref() == Some(user_email.as_str())),
        "{:?}",
        audit.items
    );
}

#[tokio::test]
async fn disabling_a_user_from_the_cockpit_ends_its_sessions_until_enabled() {
    let server = TestServer::start();
    let admin_email = server.create_admin();
    let (user_email, user_id) = server.register_user(&http()).await;
    let phone = server.login(&http(), &user_email, "phone/1.0").await;
    let client = admin_client(&server, None);
    client
        .login(
            0,
            &admin_email,
            &Credential::Password(Secret::new(PASSWORD)),
        )
        .await
        .unwrap();
    let disable = AdminAction::DisableUser {
        user_id: user_id.clone(),
    };
    assert_eq!(client.revoke(0, &disable).await, Ok(0));
    assert_eq!(server.me_status(&http(), &phone.access_token).await, 401);
    let enable = AdminAction::EnableUser { user_id };
    assert_eq!(client.revoke(0, &enable).await, Ok(0));
    let again = server.login(&http(), &user_email, "phone/1.0").await;
    assert_eq!(server.me_status(&http(), &again.access_token).await, 200);
}

#[tokio::test]
async fn an_admin_logs_in_with_a_one_time_code() {
    let server = TestServer::start();
    let admin_email = server.create_admin();
    let (user_email, _) = server.register_user(&http()).await;
    let client = admin_client(&server, None);
    assert_eq!(client.request_code(0, &admin_email).await, Ok(()));
    let code = server.mailed_code(&admin_email);
    // A wrong code is refused like a wrong password (and spends one try).
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = client
        .login(0, &admin_email, &Credential::Code(Secret::new(wrong)))
        .await;
    assert_eq!(refused, Err(AdminError::BadCredentials));
    client
        .login(0, &admin_email, &Credential::Code(Secret::new(code)))
        .await
        .expect("the mailed code logs in");
    let sessions = client
        .find_sessions(0, &SessionQuery::Email(user_email))
        .await;
    assert_eq!(sessions, Ok(Vec::new()), "logged in as admin");
}
