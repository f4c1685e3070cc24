// SPDX-License-Identifier: MIT
'use strict';
// Where the tests find the package: TIMEFUTURE_PACKAGE (set by ctest to the
// build-tree package), else the package this directory belongs to.
const path = require('node:path');

const packageDir = process.env.TIMEFUTURE_PACKAGE || path.join(__dirname, '..');

module.exports = { packageDir, tf: require(packageDir) };
