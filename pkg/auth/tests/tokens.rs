use k3rs_auth::authn::{TokenFile, UserInfo, AUTHENTICATED};
use k3rs_auth::Error;

#[test]
fn parses_token_file() {
    let text = "\
# static tokens
abc123,alice,uid-1,\"devs,ops\"

  def456 , bob , uid-2
ghi789,carol,uid-3,\"\"
jkl,dave,,single-group
";
    let tf = TokenFile::parse(text).unwrap();
    assert_eq!(tf.len(), 4);
    assert_eq!(
        tf.authenticate("abc123").unwrap(),
        UserInfo {
            name: "alice".into(),
            uid: "uid-1".into(),
            groups: vec!["devs".into(), "ops".into(), AUTHENTICATED.into()],
            extra: Default::default(),
        }
    );
    let bob = tf.authenticate("def456").unwrap();
    assert_eq!((bob.name.as_str(), bob.uid.as_str()), ("bob", "uid-2"));
    assert_eq!(bob.groups, [AUTHENTICATED]);
    assert_eq!(tf.authenticate("ghi789").unwrap().groups, [AUTHENTICATED]);
    assert_eq!(
        tf.authenticate("jkl").unwrap().groups,
        ["single-group", AUTHENTICATED]
    );
    assert!(tf.authenticate("abc12").is_none());
    assert!(tf.authenticate("abc1234").is_none());
    assert!(tf.authenticate("").is_none());
    // Tokens never show up in Debug output.
    assert!(!format!("{tf:?}").contains("abc123"));
}

#[test]
fn duplicate_tokens_last_wins_and_add_replaces() {
    let mut tf = TokenFile::parse("t,first,1\nt,second,2\n").unwrap();
    assert_eq!(tf.len(), 1);
    assert_eq!(tf.authenticate("t").unwrap().name, "second");
    tf.add(
        "t".into(),
        UserInfo {
            name: "third".into(),
            groups: vec![AUTHENTICATED.into()],
            ..Default::default()
        },
    );
    tf.add(
        "u".into(),
        UserInfo {
            name: "fourth".into(),
            ..Default::default()
        },
    );
    assert_eq!(tf.len(), 2);
    // system:authenticated is not duplicated.
    assert_eq!(tf.authenticate("t").unwrap().groups, [AUTHENTICATED]);
    assert_eq!(tf.authenticate("u").unwrap().name, "fourth");
}

fn line_of(text: &str) -> usize {
    match TokenFile::parse(text).unwrap_err() {
        Error::TokenFile { line, .. } => line,
        other => panic!("unexpected error {other}"),
    }
}

#[test]
fn malformed_lines_name_the_line() {
    assert_eq!(line_of("a,b,c\n# ok\n\nonly,two\n"), 4);
    assert_eq!(line_of("a,b,c\nx,y,z,\"unterminated\n"), 2);
    assert_eq!(line_of(",user,uid\n"), 1);
    assert_eq!(line_of("tok,,uid\n"), 1);
    assert_eq!(line_of("tok,user,uid,g1,g2\n"), 1);
    assert_eq!(line_of("a,b,c\n\ntok,us\"er,uid\n"), 3);
    let msg = TokenFile::parse("a,b\n").unwrap_err().to_string();
    assert!(msg.contains("line 1") && msg.contains("3 columns"), "{msg}");
}

#[test]
fn load_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("tokens.csv");
    std::fs::write(&path, "good,user,uid\nbad\n").unwrap();
    let msg = TokenFile::load(&path).unwrap_err().to_string();
    assert!(
        msg.contains("tokens.csv") && msg.contains("line 2"),
        "{msg}"
    );
    std::fs::write(&path, "good,user,uid\r\n").unwrap();
    assert_eq!(
        TokenFile::load(&path)
            .unwrap()
            .authenticate("good")
            .unwrap()
            .name,
        "user"
    );
    let missing = TokenFile::load(&tmp.path().join("nope.csv")).unwrap_err();
    assert!(matches!(missing, Error::Io { .. }));
}
