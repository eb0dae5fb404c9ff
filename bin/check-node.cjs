"use strict";
/*
 * Runs before anything else (`node --require ./bin/check-node.cjs …`, or on its own): keyless needs a Node.js that
 * runs TypeScript directly. On an older Node the real error would be ERR_UNKNOWN_FILE_EXTENSION or a test runner
 * that finds no files, so this says what is needed in one line and exits. Plain old JavaScript on purpose: it must
 * itself run on the Node it turns away.
 */
var REQUIRED = [22, 19];

/** The one-line problem with `version` (e.g. "20.20.2"), or undefined when it is new enough. */
function nodeVersionProblem(version) {
  var parts = String(version).replace(/^v/, "").split(".");
  var major = Number(parts[0]);
  var minor = Number(parts[1]);
  if (major > REQUIRED[0] || (major === REQUIRED[0] && minor >= REQUIRED[1])) return undefined;
  return (
    "keyless-worker needs Node.js " +
    REQUIRED.join(".") +
    " or newer (24 is the reference), but this is Node.js " +
    version +
    " (" +
    process.execPath +
    "). Install Node 24 (https://nodejs.org, or `nvm install 24`), or in this repository run" +
    " `source .ci/node.sh`, which puts Node 24 first on PATH."
  );
}

module.exports = { nodeVersionProblem: nodeVersionProblem };

var problem = nodeVersionProblem(process.versions.node);
if (problem) {
  process.stderr.write(problem + "\n");
  process.exit(1);
}
