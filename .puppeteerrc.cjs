// npm ci never downloads a browser (it cannot on machines without internet, and a failed download must not
// fail the install). `npm run setup` provides one instead: Debian's chromium where apt-get is available,
// else puppeteer's own Chrome (`npx puppeteer browsers install chrome`). Where Debian's chromium exists it is used.
const fs = require('node:fs');
const system = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => fs.existsSync(p));
module.exports = { skipDownload: true, ...(system ? { executablePath: system } : {}) };
