#!/usr/bin/env bash
# Offline validation of deploy/terraform (no terraform init against a registry,
# no provider download, no AWS credentials):
#   1. every .tf (and the tfvars example) parses with python-hcl2;
#   2. no IAM/KMS/bucket/queue policy grants "*", "s3:*", "kms:*" or any other
#      service-wide wildcard action, nor uses NotAction;
#   3. checkov passes; every skipped check must carry a written reason;
#   4. if a terraform binary and a local provider mirror are present:
#      terraform fmt -check and terraform validate (offline, in a scratch copy).
#
# Tools are installed from PyPI into
#   ${LIBERATOR_TOOLS:-$HOME/.cache/liberator/tools}/deploy-venv
# and reused while their pinned versions match. Run from anywhere:
#   bash deploy/validate.sh
set -euo pipefail

CHECKOV_VERSION=3.3.30
PYTHON_HCL2_VERSION=8.1.4

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TF_DIR_REL=deploy/terraform
TF_DIR="$ROOT/$TF_DIR_REL"
TOOLS=${LIBERATOR_TOOLS:-$HOME/.cache/liberator/tools}
VENV="$TOOLS/deploy-venv"
# checkov depends on bc-python-hcl2, which installs the same `hcl2` module as
# python-hcl2; python-hcl2 therefore lives in its own --target directory
# inside the venv and is put first on PYTHONPATH only for the parse step.
HCL2_LIB="$VENV/python-hcl2"
STAMP="$VENV/.liberator-deploy-tools"
WANT_STAMP="checkov==$CHECKOV_VERSION python-hcl2==$PYTHON_HCL2_VERSION $(python3 -c 'import sys; print("py%d.%d" % sys.version_info[:2])')"

cd "$ROOT"
start=$SECONDS
step() { printf '\n== %s\n' "$*"; }
die() { printf 'validate: FAILED: %s\n' "$*" >&2; exit 1; }

[[ -d "$TF_DIR" ]] || die "$TF_DIR_REL not found"

#------------------------------------------------------------------------------
step "tools ($VENV)"
install_tools() {
  mkdir -p "$TOOLS"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    "checkov==$CHECKOV_VERSION"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    --target "$HCL2_LIB" "python-hcl2==$PYTHON_HCL2_VERSION"
  printf '%s\n' "$WANT_STAMP" >"$STAMP"
}
tools_ready() {
  [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT_STAMP" && -x "$VENV/bin/checkov" && -d "$HCL2_LIB/hcl2" ]]
}
if tools_ready; then
  echo "reusing $(cat "$STAMP")"
else
  mkdir -p "$TOOLS"
  # Serialise concurrent first runs (CI and a developer, say) on one machine.
  exec 9>"$TOOLS/deploy-venv.lock"
  if command -v flock >/dev/null; then flock 9; fi
  if tools_ready; then
    echo "reusing $(cat "$STAMP") (installed by a concurrent run)"
  else
    echo "installing checkov==$CHECKOV_VERSION and python-hcl2==$PYTHON_HCL2_VERSION from PyPI"
    install_tools || die "could not install the validation tools from PyPI"
  fi
  exec 9>&-
fi

#------------------------------------------------------------------------------
step "parse every .tf with python-hcl2"
PYTHONPATH="$HCL2_LIB" "$VENV/bin/python" - "$TF_DIR_REL" <<'PY'
import pathlib, sys
import hcl2

root = pathlib.Path(sys.argv[1])
files = sorted(root.rglob("*.tf")) + sorted(root.rglob("*.tfvars.example"))
files = [f for f in files if ".terraform" not in f.parts]
if not any(f.suffix == ".tf" for f in files):
    sys.exit(f"no .tf files under {root}")
bad = 0
for f in files:
    try:
        with f.open() as fh:
            doc = hcl2.load(fh)
    except Exception as e:  # python-hcl2 raises lark errors of several types
        bad += 1
        print(f"  FAIL {f}: {type(e).__name__}: {e}")
        continue
    blocks = sum(len(v) if isinstance(v, list) else 1 for v in doc.values())
    print(f"  ok   {f} ({blocks} top-level entries)")
if bad:
    sys.exit(f"{bad} file(s) failed to parse with python-hcl2 {hcl2.__version__ if hasattr(hcl2, '__version__') else ''}")
print(f"{len(files)} files parsed")
PY

#------------------------------------------------------------------------------
step "policy wildcard check (no \"*\", \"s3:*\", \"kms:*\" or other service:* actions)"
python3 - "$TF_DIR_REL" <<'PY'
import pathlib, re, sys

# An action list in HCL (actions = [...] in aws_iam_policy_document) or in a
# jsonencode()d policy (Action = "..." / Action = [...]); NotAction is banned.
ACTION_ATTR = re.compile(
    r'\b(actions|Action|not_actions|NotAction)\s*=\s*(\[[^\]]*\]|"[^"]*")', re.S)
STRING = re.compile(r'"([^"]*)"')
# A whole-service wildcard anywhere, e.g. "s3:*" or "kms:*" in a JSON heredoc.
SERVICE_WILDCARD = re.compile(r'"([A-Za-z0-9-]+:\*)"')


def strip_comments(text):
    out = []
    for line in text.splitlines():
        # drop # and // comments that are not inside a string
        in_str = False
        cut = len(line)
        i = 0
        while i < len(line):
            c = line[i]
            if c == '"' and (i == 0 or line[i - 1] != "\\"):
                in_str = not in_str
            elif not in_str and (c == "#" or line.startswith("//", i)):
                cut = i
                break
            i += 1
        out.append(line[:cut])
    return "\n".join(out)


def violations(text):
    text = strip_comments(text)
    found = []
    for m in ACTION_ATTR.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        attr = m.group(1)
        if attr in ("not_actions", "NotAction"):
            found.append((line, f"{attr} is not allowed (grants everything else)"))
            continue
        for action in STRING.findall(m.group(2)):
            if action == "*" or action.endswith(":*"):
                found.append((line, f'{attr} grants "{action}"'))
    for m in SERVICE_WILDCARD.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        found.append((line, f'service-wide wildcard "{m.group(1)}"'))
    return sorted(set(found))


# Self-test: the checker must catch each of these and pass the last one.
samples = {
    'actions = ["s3:*"]': 1,
    'Action = "kms:*"': 1,
    'actions = [\n  "s3:GetObject",\n  "*",\n]': 1,
    'Action = ["glue:*", "s3:GetObject"]': 1,
    'policy = <<EOT\n{"Action": "s3:*"}\nEOT': 1,
    'not_actions = ["s3:GetObject"]': 1,
    'actions = ["s3:GetObject"] # not "s3:*"\nresources = ["*"]': 0,
}
for sample, expected in samples.items():
    got = len(violations(sample))
    if (got > 0) != (expected > 0):
        sys.exit(f"policy checker self-test failed on {sample!r}: {got} violation(s)")

root = pathlib.Path(sys.argv[1])
bad = 0
for f in sorted(root.rglob("*.tf")):
    if ".terraform" in f.parts:
        continue
    for line, what in violations(f.read_text()):
        bad += 1
        print(f"  {f}:{line}: {what}")
if bad:
    sys.exit(f"{bad} wildcard action grant(s) found")
print("no wildcard actions")
PY

#------------------------------------------------------------------------------
step "checkov -d $TF_DIR_REL"
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
set +e
# Equivalent of `checkov -d deploy/terraform --quiet --compact`, but with the
# full JSON report kept so that skipped checks and their reasons can be
# listed (--quiet drops them from every output).
# --skip-download: never contact Prisma Cloud (there is no network here);
# --var-file: the example tfvars gives values to the required variables.
BC_SKIP_MAPPING=TRUE "$VENV/bin/checkov" \
  -d "$TF_DIR_REL" --framework terraform \
  --var-file "$TF_DIR_REL/terraform.tfvars.example" \
  --compact --skip-download --skip-results-upload \
  -o cli -o json --output-file-path "$results/cli.txt,$results/checkov.json" \
  >"$results/stdout.txt" 2>"$results/stderr.txt"
checkov_rc=$?
set -e
json="$results/checkov.json"
if [[ ! -s "$json" ]]; then
  cat "$results/stdout.txt" "$results/stderr.txt" >&2
  die "checkov produced no report (exit $checkov_rc)"
fi
python3 - "$json" "$checkov_rc" <<'PY'
import json, sys

path, rc = sys.argv[1], int(sys.argv[2])
data = json.load(open(path))
reports = data if isinstance(data, list) else [data]
passed = failed = skipped = parse_errors = 0
skips, fails, parse_files = [], [], []
for r in reports:
    s = r.get("summary", {})
    passed += s.get("passed", 0)
    failed += s.get("failed", 0)
    skipped += s.get("skipped", 0)
    parse_errors += s.get("parsing_errors", 0)
    res = r.get("results", {})
    parse_files += res.get("parsing_errors", [])
    for c in res.get("skipped_checks", []):
        why = (c.get("check_result") or {}).get("suppress_comment") or ""
        skips.append((c["check_id"], c.get("resource", "?"), why))
    for c in res.get("failed_checks", []):
        lines = c.get("file_line_range") or ["?", "?"]
        fails.append((c["check_id"], c.get("check_name", ""), c.get("resource", "?"),
                      f'{c.get("repo_file_path") or c.get("file_path")}:{lines[0]}-{lines[1]}'))
for cid, name, res, where in sorted(fails):
    print(f"  FAILED  {cid} {name}\n          {res} ({where})")
for cid, res, why in sorted(skips):
    print(f"  skipped {cid} on {res}: {why}")
print(f"Passed checks: {passed}, Failed checks: {failed}, Skipped checks: {skipped}, Parsing errors: {parse_errors}")
unexplained = [(cid, res) for cid, res, why in skips
               if why.strip().lower() in ("", "no comment provided", "none")]
problems = []
if unexplained:
    problems.append(f"{len(unexplained)} skipped check(s) without a written reason: {unexplained}")
if parse_errors or parse_files:
    problems.append(f"checkov could not parse: {parse_files}")
if failed or rc != 0:
    problems.append(f"checkov failed (exit {rc}, {failed} failed check(s))")
if passed == 0:
    problems.append("checkov ran no checks")
if problems:
    sys.exit("; ".join(problems))
PY

#------------------------------------------------------------------------------
step "terraform fmt / validate (offline, optional)"
plugin_dir=${LIBERATOR_TF_PLUGIN_DIR:-/opt/tf-plugins}
if ! command -v terraform >/dev/null; then
  echo "skipped: no terraform binary on PATH"
elif [[ ! -d "$plugin_dir/registry.terraform.io/hashicorp/aws" ]]; then
  echo "skipped: no local provider mirror at $plugin_dir (set LIBERATOR_TF_PLUGIN_DIR); nothing is downloaded"
else
  export TF_CLI_CONFIG_FILE="$results/terraformrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
  : >"$TF_CLI_CONFIG_FILE"
  terraform fmt -check -diff -recursive "$TF_DIR_REL" || die "terraform fmt -check: run terraform fmt -recursive $TF_DIR_REL"
  scratch="$results/tf"
  mkdir -p "$scratch"
  cp "$TF_DIR"/*.tf "$scratch/"
  (
    cd "$scratch"
    terraform init -backend=false -input=false -no-color -plugin-dir="$plugin_dir" >init.log 2>&1 \
      || { cat init.log; exit 1; }
    terraform validate -no-color
  ) || die "terraform validate"
fi

printf '\nvalidate: OK (%ss)\n' "$((SECONDS - start))"
