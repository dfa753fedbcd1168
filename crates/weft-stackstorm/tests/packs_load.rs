//! Loading packs: the reference, the config, the action metadata, and
//! every mistake located at its file, line and column.
mod common;

use std::path::Path;

use serde_json::json;
use weft_stackstorm::{Pack, PackErrorKind, Packs, ParamType};

/// Writes `files` (path, text) under a new directory and returns it.
fn pack_dir(name: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join(name);
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    root
}

fn load(root: &tempfile::TempDir, name: &str) -> Result<Pack, weft_stackstorm::PackError> {
    Pack::load(root.path().join(name))
}

#[test]
fn the_demo_pack_loads_with_its_actions_and_parameters() {
    let pack = Pack::load(common::demo()).unwrap();
    assert_eq!(pack.reference(), "demo");
    assert_eq!(pack.version(), Some("0.1.0"));
    let greet = pack.action("greet").unwrap();
    assert_eq!(greet.reference(), "demo.greet");
    assert_eq!(greet.runner(), "local-shell-cmd");
    assert!(greet.unavailable().is_none());
    // The action's parameters first, then the runner's it leaves alone.
    let names: Vec<&str> = greet.parameters().iter().map(|p| p.name()).collect();
    assert_eq!(
        names,
        [
            "name",
            "greeting",
            "cmd",
            "cwd",
            "env",
            "kwarg_op",
            "sudo",
            "sudo_password",
            "timeout"
        ]
    );
    let cmd = &greet.parameters()[2];
    assert!(cmd.immutable() && cmd.is_runner_parameter());
    // The runner's type is kept under the action's changes.
    assert_eq!(cmd.kind(), Some(ParamType::String));
    let timeout = greet
        .parameters()
        .iter()
        .find(|p| p.name() == "timeout")
        .unwrap();
    assert_eq!(timeout.default(), Some(&json!(60)));
    assert_eq!(
        pack.action("remote")
            .unwrap()
            .unavailable()
            .map(|r| r.contains("runner `remote-shell-cmd`")),
        Some(true)
    );
    assert!(pack
        .action("disabled")
        .unwrap()
        .unavailable()
        .is_some_and(|r| r.contains("disabled")));
}

#[test]
fn the_config_gets_its_schema_defaults() {
    let pack = Pack::load(common::demo()).unwrap();
    assert_eq!(
        pack.config(),
        &json!({"greeting": "Hello", "count": "3", "api_key": "key-7f3a9c41", "region": "eu-west-1"})
    );
}

#[test]
fn a_config_from_the_configs_directory_comes_first() {
    let configs = tempfile::tempdir().unwrap();
    std::fs::write(configs.path().join("demo.yaml"), "greeting: Bonjour\n").unwrap();
    let packs = Packs::new()
        .configs_dir(configs.path())
        .load(common::demo())
        .unwrap();
    let pack = &packs.packs()[0];
    assert_eq!(pack.config()["greeting"], "Bonjour");
    assert_eq!(pack.config()["region"], "eu-west-1");
    assert_eq!(
        pack.config_file(),
        Some(configs.path().join("demo.yaml").as_path())
    );
}

#[test]
fn the_reference_is_ref_else_the_directory_name_else_name() {
    let root = pack_dir("mine", &[("pack.yaml", "name: Some Pack\n")]);
    assert_eq!(load(&root, "mine").unwrap().reference(), "mine");
    let root = pack_dir("My-Pack", &[("pack.yaml", "name: mine2\n")]);
    assert_eq!(load(&root, "My-Pack").unwrap().reference(), "mine2");
    let root = pack_dir("My-Pack", &[("pack.yaml", "name: mine2\nref: other\n")]);
    assert_eq!(load(&root, "My-Pack").unwrap().reference(), "other");
    let root = pack_dir("My-Pack", &[("pack.yaml", "name: Not Valid\n")]);
    let err = load(&root, "My-Pack").unwrap_err();
    assert_eq!(err.location().line, Some(1));
    assert!(err.message().contains("add `ref`"), "{err}");
    let root = pack_dir("x", &[("pack.yaml", "name: x\nref: Bad-Ref\n")]);
    let err = load(&root, "x").unwrap_err();
    assert_eq!(
        (err.location().line, err.location().column),
        (Some(2), Some(6))
    );
}

fn error_at(files: &[(&str, &str)], file: &str, line: usize, column: usize, text: &str) {
    let root = pack_dir("p", files);
    let err = load(&root, "p").unwrap_err();
    let found = err.all().find(|e| {
        e.location()
            .file
            .as_deref()
            .is_some_and(|f| f.ends_with(file))
            && e.location().line == Some(line)
            && e.location().column == Some(column)
    });
    match found {
        Some(e) => assert!(e.to_string().contains(text), "{e}"),
        None => panic!(
            "no error at {file}:{line}:{column}; got:\n{}",
            err.all()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

const PACK: (&str, &str) = ("pack.yaml", "name: p\n");

#[test]
fn metadata_mistakes_are_located() {
    error_at(
        &[
            PACK,
            (
                "actions/a.yaml",
                "name: a\nrunner_type: noop\nparamters: {}\n",
            ),
        ],
        "actions/a.yaml",
        3,
        1,
        "unknown key `paramters`: did you mean `parameters`?",
    );
    error_at(
        &[
            PACK,
            (
                "actions/a.yaml",
                "name: a\nrunner_type: noop\nparameters:\n  x:\n    type: integr\n",
            ),
        ],
        "actions/a.yaml",
        5,
        11,
        "`integr` is not a parameter type: did you mean `integer`?",
    );
    error_at(
        &[
            PACK,
            (
                "actions/a.yaml",
                "name: a\nrunner_type: noop\nparameters:\n  x:\n    requird: true\n",
            ),
        ],
        "actions/a.yaml",
        5,
        5,
        "did you mean `required`?",
    );
    error_at(
        &[
            PACK,
            (
                "actions/a.yaml",
                "name: a\nrunner_type: noop\nparameters:\n  x: {type: string, required: maybe}\n",
            ),
        ],
        "actions/a.yaml",
        4,
        31,
        "must be true or false",
    );
    error_at(
        &[
            PACK,
            (
                "actions/a.yaml",
                "name: a\nrunner_type: noop\nparameters:\n  bad-name: {type: string}\n",
            ),
        ],
        "actions/a.yaml",
        4,
        3,
        "not a parameter name",
    );
    error_at(
        &[PACK, ("actions/a.yaml", "name: a\nrunner_type: [noop\n")],
        "actions/a.yaml",
        3,
        1,
        "syntax error",
    );
    error_at(
        &[
            PACK,
            ("actions/a.yaml", "name: a\nname: b\nrunner_type: noop\n"),
        ],
        "actions/a.yaml",
        2,
        1,
        "duplicate key `name`",
    );
    error_at(
        &[
            PACK,
            (
                "actions/a.yaml",
                "description: no name\nrunner_type: noop\n",
            ),
        ],
        "actions/a.yaml",
        1,
        1,
        "has no `name`",
    );
    error_at(
        &[
            PACK,
            (
                "actions/a.yaml",
                "name: a\npack: other\nrunner_type: noop\n",
            ),
        ],
        "actions/a.yaml",
        2,
        7,
        "in pack `p`",
    );
    // A runner's parameter may change only its default, description,
    // enum, immutable and required.
    error_at(
        &[PACK, ("actions/a.yaml", "name: a\nrunner_type: local-shell-cmd\nparameters:\n  timeout:\n    type: string\n")],
        "actions/a.yaml",
        5,
        11,
        "may not change `type` of runner parameter `timeout`",
    );
}

#[test]
fn entry_points_must_be_files_in_the_pack() {
    error_at(
        &[
            PACK,
            (
                "actions/a.yaml",
                "name: a\nrunner_type: local-shell-script\nentry_point: missing.sh\n",
            ),
        ],
        "actions/a.yaml",
        3,
        14,
        "entry point `missing.sh`",
    );
    error_at(
        &[
            PACK,
            ("actions/a.yaml", "name: a\nrunner_type: python-script\n"),
        ],
        "actions/a.yaml",
        2,
        14,
        "needs an `entry_point`",
    );
    let root = pack_dir(
        "p",
        &[
            PACK,
            (
                "actions/a.yaml",
                "name: a\nrunner_type: local-shell-script\nentry_point: ../../outside.sh\n",
            ),
        ],
    );
    std::fs::write(root.path().join("outside.sh"), "#!/bin/sh\n").unwrap();
    let err = load(&root, "p").unwrap_err();
    assert_eq!(err.kind(), PackErrorKind::EntryPoint);
    assert!(err.message().contains("outside the pack"), "{err}");
}

#[test]
fn two_actions_of_one_name_are_refused_naming_both_files() {
    let root = pack_dir(
        "p",
        &[
            PACK,
            ("actions/a.yaml", "name: same\nrunner_type: noop\n"),
            ("actions/b.yaml", "name: same\nrunner_type: noop\n"),
        ],
    );
    let err = load(&root, "p").unwrap_err();
    assert_eq!(err.kind(), PackErrorKind::Duplicate);
    assert!(err
        .location()
        .file
        .as_deref()
        .unwrap()
        .ends_with("actions/b.yaml"));
    assert_eq!(
        (err.location().line, err.location().column),
        (Some(1), Some(7))
    );
    assert!(err.message().contains("actions/a.yaml"), "{err}");
}

#[test]
fn every_mistake_in_a_pack_is_reported_at_once() {
    let root = pack_dir(
        "p",
        &[
            PACK,
            ("actions/a.yaml", "name: a\nrunner_type: noop\nbogus: 1\n"),
            (
                "actions/b.yaml",
                "name: b\nrunner_type: noop\nalso_bogus: 1\n",
            ),
        ],
    );
    let err = load(&root, "p").unwrap_err();
    assert_eq!(err.all().count(), 2, "{err}");
    assert!(err.to_string().ends_with("(and 1 more)"), "{err}");
}

#[test]
fn a_config_that_reads_the_datastore_is_refused() {
    let root = pack_dir(
        "p",
        &[
            PACK,
            (
                "config.yaml",
                "url: https://x\ntoken: \"{{ st2kv.system.token }}\"\n",
            ),
        ],
    );
    let err = load(&root, "p").unwrap_err();
    assert_eq!(err.kind(), PackErrorKind::Config);
    assert_eq!(err.location().line, Some(2));
    assert!(err.message().contains("datastore"), "{err}");
}

#[test]
fn a_pack_loaded_twice_is_refused() {
    let err = Packs::new()
        .load(common::demo())
        .unwrap()
        .load(common::demo())
        .unwrap_err();
    assert_eq!(err.kind(), PackErrorKind::Duplicate);
}

#[test]
fn hostile_yaml_is_refused_not_expanded() {
    let mut laughs =
        String::from("name: a\nrunner_type: noop\nx0: &x0 [a, a, a, a, a, a, a, a, a, a]\n");
    for i in 1..9 {
        let p = i - 1;
        laughs.push_str(&format!(
            "x{i}: &x{i} [*x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}]\n"
        ));
    }
    let root = pack_dir("p", &[PACK, ("actions/a.yaml", &laughs)]);
    let err = load(&root, "p").unwrap_err();
    assert!(err.all().any(|e| e.kind() == PackErrorKind::Limit), "{err}");
    let root = pack_dir("p", &[PACK, ("actions/a.yaml", &"[".repeat(100_000))]);
    assert!(load(&root, "p").is_err());
    assert!(Path::new(&common::demo()).exists());
}
