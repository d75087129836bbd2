/**
 * The programs inside the official images: a reader of the task's inputs for shell
 * scripts (`co-json`), and one entry script per component, all run by busybox sh and
 * awk. They follow the component protocol (docs/component-protocol.md): inputs come as
 * the JSON object in `CO_DATA`, outputs go to stdout as `[COUT] key = value` lines, and
 * the exit code tells success (0) from failure. Exit code 2 means the inputs were unusable.
 *
 * Kept as text in code (not files beside it) so that the compiled service carries them.
 * The texts never hold a dollar sign followed by a brace, so they can sit in raw template
 * literals as written.
 */

/** Reads `CO_DATA`; busybox has no JSON tool, its awk parses the object (strings with every JSON escape, numbers, booleans, null, objects, arrays). */
export const CO_JSON = String.raw`#!/bin/sh
# co-json: reads the task's inputs (the JSON object in CO_DATA) for shell scripts.
#   co-json get PATH              the value at PATH (a.b), as text; exit 1 when missing
#   co-json sh NAME PATH [DEFAULT] NAME='value' for eval (DEFAULT when missing; exit 1 without one)
#   co-json exports PATH          export NAME='value' for each entry of the object at PATH
# Exit 2: CO_DATA is not a JSON object, or the value is not what the mode needs.
exec awk -v mode="$1" -v name="$2" -v want="$3" -v fallback="$4" -v hasfallback="$#" '
function fail(message) { print "co-json: " message > "/dev/stderr"; exit 2 }
function skip() { while (pos <= len && index(" \t\r\n", substr(text, pos, 1)) > 0) pos++ }
function hexval(h,   i, v, d) {
  v = 0
  for (i = 1; i <= 4; i++) {
    d = index("0123456789abcdef", tolower(substr(h, i, 1))) - 1
    if (d < 0) fail("a \\u escape needs four hex digits (at character " pos ")")
    v = v * 16 + d
  }
  return v
}
function utf8(c) {
  if (c < 128) return sprintf("%c", c)
  if (c < 2048) return sprintf("%c%c", 192 + int(c / 64), 128 + c % 64)
  if (c < 65536) return sprintf("%c%c%c", 224 + int(c / 4096), 128 + int(c / 64) % 64, 128 + c % 64)
  return sprintf("%c%c%c%c", 240 + int(c / 262144), 128 + int(c / 4096) % 64, 128 + int(c / 64) % 64, 128 + c % 64)
}
function str(   out, c, rest, at, code, low) {
  pos++
  out = ""
  while (1) {
    rest = substr(text, pos)
    at = match(rest, /["\\]/)
    if (!at) fail("a string is not closed")
    out = out substr(rest, 1, at - 1)
    pos += at
    if (substr(rest, at, 1) == "\"") return out
    c = substr(text, pos, 1)
    pos++
    if (c == "n") out = out "\n"
    else if (c == "t") out = out "\t"
    else if (c == "r") out = out "\r"
    else if (c == "b") out = out "\b"
    else if (c == "f") out = out "\f"
    else if (c == "/" || c == "\\" || c == "\"") out = out c
    else if (c == "u") {
      code = hexval(substr(text, pos, 4))
      pos += 4
      if (code >= 55296 && code < 56320 && substr(text, pos, 2) == "\\u") {
        low = hexval(substr(text, pos + 2, 4))
        if (low >= 56320 && low < 57344) { code = 65536 + (code - 55296) * 1024 + (low - 56320); pos += 6 }
      }
      if (code == 0) fail("text holding a NUL character cannot be passed to a shell")
      out = out utf8(code)
    } else fail("unknown escape \\" c " at character " (pos - 1))
  }
}
function value(path,   c, key, count, rest) {
  skip()
  c = substr(text, pos, 1)
  if (c == "{") {
    kind[path] = "object"; keys[path] = ""
    pos++; skip()
    if (substr(text, pos, 1) == "}") { pos++; return }
    while (1) {
      skip()
      if (substr(text, pos, 1) != "\"") fail("expected a key at character " pos)
      key = str()
      skip()
      if (substr(text, pos, 1) != ":") fail("expected : at character " pos)
      pos++
      keys[path] = keys[path] key "\n"
      value(path == "" ? key : path "." key)
      skip()
      c = substr(text, pos, 1)
      pos++
      if (c == "}") return
      if (c != ",") fail("expected , or } at character " (pos - 1))
    }
  }
  if (c == "[") {
    kind[path] = "array"; count = 0
    pos++; skip()
    if (substr(text, pos, 1) == "]") { pos++; return }
    while (1) {
      value(path "." count)
      count++
      skip()
      c = substr(text, pos, 1)
      pos++
      if (c == "]") return
      if (c != ",") fail("expected , or ] at character " (pos - 1))
    }
  }
  if (c == "\"") { kind[path] = "string"; val[path] = str(); return }
  rest = substr(text, pos, 400)
  if (match(rest, /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?/)) { kind[path] = "number"; val[path] = substr(rest, 1, RLENGTH); pos += RLENGTH; return }
  if (substr(rest, 1, 4) == "true") { kind[path] = "boolean"; val[path] = "true"; pos += 4; return }
  if (substr(rest, 1, 5) == "false") { kind[path] = "boolean"; val[path] = "false"; pos += 5; return }
  if (substr(rest, 1, 4) == "null") { kind[path] = "null"; val[path] = ""; pos += 4; return }
  fail("not JSON at character " pos)
}
function quoted(s) { gsub(/\x27/, "\x27\\\x27\x27", s); return "\x27" s "\x27" }
function scalar(path) {
  if (kind[path] == "object" || kind[path] == "array") fail("inputs." path " must be a string, number or boolean")
  return val[path]
}
BEGIN {
  text = ENVIRON["CO_DATA"]
  if (text == "") text = "{}"
  len = length(text)
  pos = 1
  skip()
  if (substr(text, pos, 1) != "{") fail("CO_DATA must hold a JSON object")
  value("")
  skip()
  if (pos <= len) fail("CO_DATA has more after its JSON object (at character " pos ")")
  if (mode == "get") {
    if (!(name in kind) || kind[name] == "null") exit 1
    printf "%s", scalar(name)
    exit 0
  }
  if (mode == "sh") {
    if (name !~ /^[A-Za-z_][A-Za-z0-9_]*$/) fail(name " is not a shell variable name")
    if (!(want in kind) || kind[want] == "null") {
      if (hasfallback < 4) exit 1
      print name "=" quoted(fallback)
      exit 0
    }
    print name "=" quoted(scalar(want))
    exit 0
  }
  if (mode == "exports") {
    if (!(name in kind) || kind[name] == "null") exit 0
    if (kind[name] != "object") fail("inputs." name " must be an object of NAME: value")
    count = split(keys[name], list, "\n")
    for (i = 1; i < count; i++) {
      if (list[i] !~ /^[A-Za-z_][A-Za-z0-9_]*$/) fail("inputs." name ": " list[i] " is not an environment variable name")
      print "export " list[i] "=" quoted(scalar(name "." list[i]))
    }
    exit 0
  }
  fail("usage: co-json get PATH | co-json sh NAME PATH [DEFAULT] | co-json exports PATH")
}'
`;

/** official/echo: prints `inputs.message` and hands it back as the output `message`. */
export const ECHO_ENTRY = String.raw`#!/bin/sh
# official/echo: prints inputs.message and hands it back as the output "message"
# (line breaks become spaces in the output: an output is one line).
set -eu
vars=$(co-json sh co_message message) || { echo "echo: inputs.message is required" >&2; exit 2; }
eval "$vars"
printf '%s\n' "$co_message"
printf '[COUT] message = %s\n' "$(printf '%s' "$co_message" | tr '\n' ' ')"
`;

/**
 * official/run-script: runs `inputs.script` with `inputs.shell` in /workspace, with
 * `inputs.env` exported; the script's exit code is the task's.
 */
export const RUN_SCRIPT_ENTRY = String.raw`#!/bin/sh
# official/run-script: runs inputs.script with inputs.shell (sh, the default, or ash) in
# /workspace, with the variables of inputs.env exported. With inputs.errexit (true by
# default) the script stops at the first command that fails. The script's exit code is
# the task's; it may print "[COUT] result = ..." lines itself.
set -eu
fail() { echo "run-script: $*" >&2; exit 2; }
vars=$(co-json sh co_shell shell sh) || exit 2
eval "$vars"
vars=$(co-json sh co_errexit errexit true) || exit 2
eval "$vars"
case "$co_shell" in sh|ash) ;; *) fail "inputs.shell must be sh or ash, not $co_shell" ;; esac
case "$co_errexit" in true) co_flags=-e ;; false) co_flags= ;; *) fail "inputs.errexit must be true or false" ;; esac
co_script=/tmp/co-run-script.sh
co-json get script > "$co_script" || fail "inputs.script is required: the commands to run"
co_exports=$(co-json exports env) || exit 2
mkdir -p /workspace
cd /workspace
eval "$co_exports"
exec "$co_shell" $co_flags "$co_script"
`;

/**
 * official/git-clone: clones `inputs.url` (at `inputs.ref`, `inputs.depth` commits deep)
 * into /workspace/<inputs.directory> and outputs the commit checked out.
 */
export const GIT_CLONE_ENTRY = String.raw`#!/bin/sh
# official/git-clone: clones inputs.url into /workspace/<inputs.directory> ("src" by
# default) at inputs.ref (a branch or tag; the remote's default branch when empty),
# inputs.depth commits deep (1 by default; 0 clones the whole history), and outputs
# the commit checked out ("commit") and where it is ("directory").
set -eu
fail() { echo "git-clone: $*" >&2; exit 2; }
vars=$(co-json sh co_url url) || fail "inputs.url is required: the repository to clone"
eval "$vars"
vars=$(co-json sh co_ref ref '') || exit 2
eval "$vars"
vars=$(co-json sh co_depth depth 1) || exit 2
eval "$vars"
vars=$(co-json sh co_directory directory src) || exit 2
eval "$vars"
case "$co_depth" in ''|*[!0-9]*) fail "inputs.depth must be a whole number (0: the whole history)" ;; esac
case "/$co_directory/" in //|*/../*|*/./*) fail "inputs.directory must be a relative path inside /workspace without . or .. parts" ;; esac
case "$co_directory" in /*) fail "inputs.directory must be a relative path inside /workspace" ;; esac
co_target="/workspace/$co_directory"
# Credentials written into the URL (https://user:token@host/...) stay out of the log.
co_shown=$(printf '%s' "$co_url" | sed -e 's#^\([A-Za-z][A-Za-z0-9+.-]*://\)[^/@]*@#\1#')
set -- clone
if [ "$co_depth" -gt 0 ]; then set -- "$@" --depth "$co_depth"; fi
if [ -n "$co_ref" ]; then set -- "$@" --branch "$co_ref"; fi
echo "cloning $co_shown into $co_target (ref: $co_ref, depth: $co_depth)"
git -c advice.detachedHead=false "$@" -- "$co_url" "$co_target"
co_commit=$(git -C "$co_target" rev-parse HEAD)
echo "[COUT] commit = $co_commit"
echo "[COUT] directory = $co_target"
`;
