// CommonJS (`require('grantline')` on Node): the package's ES module itself, loaded with
// require() of ES modules (on by default since Node 20.19 and 22.12). `require` and `import`
// get the same module: one WebAssembly instance, one set of classes, and `instanceof` works
// across both. Older Node versions refuse it; they load the package with `import()`.
'use strict';

try {
  module.exports = require('./node.js');
} catch (e) {
  if (!e || e.code !== 'ERR_REQUIRE_ESM') throw e;
  const error = new Error(
    "grantline: require('grantline') needs Node 20.19+ or 22.12+ (require() of ES modules); "
      + "on this Node, load it with `await import('grantline')`",
    { cause: e },
  );
  error.code = 'ERR_REQUIRE_ESM';
  throw error;
}
