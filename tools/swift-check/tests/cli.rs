//! End-to-end tests of the `swift-check` binary on fixture files.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use swift_check::contract::{self, Rule};
use swift_check::decls::Module;
use swift_check::{manifest, syntax};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn bin() -> Command {
    Command::cargo_bin("swift-check").unwrap()
}

fn module(source: &str) -> Module {
    let tree = syntax::parse_source(source).unwrap();
    assert!(
        syntax::problems(&tree, Path::new("t.swift")).is_empty(),
        "fixture must parse"
    );
    let mut m = Module::default();
    m.add("t.swift", source, &tree);
    m
}

fn read(rel: &str) -> String {
    fs::read_to_string(fixtures().join(rel)).unwrap()
}

/// Runs the contract check on (possibly edited) fixture texts.
fn rules(bindings: &str, app: &str, manifest_text: &str) -> Vec<Rule> {
    let entries = manifest::parse(manifest_text).unwrap();
    let findings = contract::check(&module(bindings), &module(app), &entries);
    for f in &findings {
        eprintln!("{f}");
    }
    findings.into_iter().map(|f| f.rule).collect()
}

fn ok_texts() -> (String, String, String) {
    (
        read("contract/bindings.swift"),
        read("contract/app_ok/App.swift"),
        read("contract/ffi-contract.txt"),
    )
}

#[test]
fn parse_accepts_valid_file() {
    bin()
        .args(["parse"])
        .arg(fixtures().join("parse/valid.swift"))
        .assert()
        .success();
}

#[test]
fn parse_rejects_broken_file_with_positions() {
    let out = bin()
        .args(["parse"])
        .arg(fixtures().join("parse"))
        .assert()
        .failure()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("broken.swift:6:"), "{out}");
    assert!(!out.contains("valid.swift"), "{out}");
}

#[test]
fn parse_fails_on_missing_path_and_empty_dir() {
    bin()
        .args(["parse", "/nonexistent/x.swift"])
        .assert()
        .code(2);
    let dir = tempfile::tempdir().unwrap();
    bin().arg("parse").arg(dir.path()).assert().code(2);
}

#[test]
fn contract_passes_on_matching_fixtures() {
    let f = fixtures().join("contract");
    bin()
        .arg("contract")
        .arg("--bindings")
        .arg(f.join("bindings.swift"))
        .arg("--sources")
        .arg(f.join("app_ok"))
        .arg("--manifest")
        .arg(f.join("ffi-contract.txt"))
        .assert()
        .success();
    let (b, a, m) = ok_texts();
    assert_eq!(rules(&b, &a, &m), []);
}

#[test]
fn contract_cli_fails_on_mismatch_and_on_missing_inputs() {
    let f = fixtures().join("contract");
    let dir = tempfile::tempdir().unwrap();
    let app = read("contract/app_ok/App.swift").replace("parseLink(url:", "parseLink(link:");
    fs::write(dir.path().join("App.swift"), app).unwrap();
    let out = bin()
        .arg("contract")
        .arg("--bindings")
        .arg(f.join("bindings.swift"))
        .arg("--sources")
        .arg(dir.path())
        .arg("--manifest")
        .arg(f.join("ffi-contract.txt"))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("App.swift:") && out.contains("parseLink(link:)"),
        "{out}"
    );

    bin()
        .arg("contract")
        .arg("--bindings")
        .arg(dir.path().join("none.swift"))
        .arg("--sources")
        .arg(dir.path())
        .arg("--manifest")
        .arg(f.join("ffi-contract.txt"))
        .assert()
        .code(2);
}

#[test]
fn contract_refuses_sources_that_do_not_parse() {
    let f = fixtures().join("contract");
    bin()
        .arg("contract")
        .arg("--bindings")
        .arg(f.join("bindings.swift"))
        .arg("--sources")
        .arg(fixtures().join("parse"))
        .arg("--manifest")
        .arg(f.join("ffi-contract.txt"))
        .assert()
        .code(2);
}

#[test]
fn renamed_function_in_bindings_is_caught() {
    let (b, a, m) = ok_texts();
    let b = b.replace("func redeem(", "func redeemLink(");
    let found = rules(&b, &a, &m);
    assert!(found.contains(&Rule::NotInBindings), "{found:?}");
}

#[test]
fn renamed_argument_label_in_bindings_is_caught() {
    let (b, a, m) = ok_texts();
    let b = b.replace("parseLink(url: String)", "parseLink(link: String)");
    let found = rules(&b, &a, &m);
    assert!(found.contains(&Rule::NotInBindings), "{found:?}");
    assert!(found.contains(&Rule::CallLabels), "{found:?}");
}

#[test]
fn wrong_label_in_app_call_is_caught() {
    let (b, a, m) = ok_texts();
    let a = a.replace("redeem(link: link, label:", "redeem(url: link, label:");
    assert_eq!(rules(&b, &a, &m), [Rule::CallLabels]);
    let (b, a, m) = ok_texts();
    let a = a.replace(
        "Companion(store: Store())",
        "Companion(secureStore: Store())",
    );
    assert_eq!(rules(&b, &a, &m), [Rule::CallLabels]);
}

#[test]
fn missing_enum_case_and_changed_payload_are_caught() {
    let (b, a, m) = ok_texts();
    let b = b.replace("    case live\n", "");
    assert_eq!(rules(&b, &a, &m), [Rule::NotInBindings]);
    let (b, a, m) = ok_texts();
    let b = b.replace(
        "reconnecting(attempt: UInt32,",
        "reconnecting(attemptNo: UInt32,",
    );
    assert_eq!(rules(&b, &a, &m), [Rule::NotInBindings]);
}

#[test]
fn missing_type_and_wrong_kind_are_caught() {
    let (b, a, m) = ok_texts();
    let b = b.replace(
        "public protocol SecureStore:",
        "public protocol SecureStorage:",
    );
    let found = rules(&b, &a, &m);
    assert!(found.contains(&Rule::NotInBindings), "{found:?}");
    let (b, a, m) = ok_texts();
    let b = b.replace(
        "public struct PairingOffer {",
        "public class PairingOffer {",
    );
    assert_eq!(rules(&b, &a, &m), [Rule::NotInBindings]);
}

#[test]
fn stale_manifest_entry_is_caught() {
    let (b, a, m) = ok_texts();
    let a = a.replace(" + coreVersion()", "");
    assert_eq!(rules(&b, &a, &m), [Rule::NotUsed]);
}

#[test]
fn wrong_protocol_implementation_is_caught() {
    let (b, a, m) = ok_texts();
    let a = a
        .replace("func list(prefix: String)", "func list(keyPrefix: String)")
        .replace("store.list(prefix:", "store.list(keyPrefix:");
    assert_eq!(rules(&b, &a, &m), [Rule::Conformance]);
    let (b, a, m) = ok_texts();
    let a = a.replace("func onOutput(offset: UInt64, data: Data) {}", "");
    assert_eq!(rules(&b, &a, &m), [Rule::Conformance]);
}

#[test]
fn bad_manifest_is_an_error() {
    let f = fixtures().join("contract");
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("m.txt"), "func parseLink\n").unwrap();
    bin()
        .arg("contract")
        .arg("--bindings")
        .arg(f.join("bindings.swift"))
        .arg("--sources")
        .arg(f.join("app_ok"))
        .arg("--manifest")
        .arg(dir.path().join("m.txt"))
        .assert()
        .code(2);
}

#[test]
fn a_value_method_named_like_an_enum_case_is_not_that_case() {
    let (b, a, m) = ok_texts();
    // `monitor.offset(by:)` is some value's method, not `ResumeFrom.offset`.
    let a = format!("{a}\nfunc other(monitor: Monitor) {{ monitor.offset(by: 2) }}\n");
    assert_eq!(rules(&b, &a, &m), []);
    // Written as a case (leading dot or the type), it is checked.
    let (b, a, m) = ok_texts();
    let a = format!("{a}\nfunc other() -> ResumeFrom {{ .offset(by: 2) }}\n");
    assert_eq!(rules(&b, &a, &m), [Rule::CallLabels]);
    let (b, a, m) = ok_texts();
    let a = format!("{a}\nfunc other() -> ResumeFrom {{ ResumeFrom.offset(by: 2) }}\n");
    assert_eq!(rules(&b, &a, &m), [Rule::CallLabels]);
}
