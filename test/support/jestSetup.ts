/**
 * Test output holds what a reader needs, once. Runs in every test file before its tests.
 */
import { Console } from 'node:console';

// The chaos suite's tallies and the storage figures are read as they are; jest's own console adds
// a header and a source line to each.
globalThis.console = new Console({ stdout: process.stdout, stderr: process.stderr });

// On Node < 22 the AWS SDK warns in every test file (8 lines each time); `npm ci` already says,
// once, that the project wants Node 22 (EBADENGINE).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
