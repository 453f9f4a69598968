// Puppeteer cannot download its own browser on machines without internet access.
// Where Debian's chromium exists we use it and skip the download; elsewhere puppeteer behaves as usual.
const fs = require('node:fs');
const system = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => fs.existsSync(p));
module.exports = system || process.env.PUPPETEER_SKIP_DOWNLOAD
  ? { skipDownload: true, ...(system ? { executablePath: system } : {}) }
  : {};
