// The in-page probe of docs/check_site.py, run after "load": waits for the images and for
// MathJax's first typesetting, then returns what a reader would meet: images that did not
// load, math left untypeset or in error, raw TeX delimiters in visible text outside code, and
// the page's links and ids (for the link check, done in Python).
async (timeoutMs) => {
  const timeout = (value) => new Promise(r => setTimeout(() => r(value), timeoutMs));
  const images = Array.from(document.images);
  images.forEach(img => { img.loading = "eager"; });
  await Promise.race([timeout(), Promise.all(images.map(img => img.complete ? null :
    new Promise(r => { img.addEventListener("load", r); img.addEventListener("error", r); })))]);
  const mj = window.MathJax;
  let mathjax = "absent";
  if (mj && mj.startup && mj.startup.promise) {
    mathjax = await Promise.race([timeout("timed out"),
      mj.startup.promise.then(() => "done", e => "failed: " + e)]);
  }
  const math = Array.from(document.querySelectorAll(".math"));
  const bare = math.filter(el => !el.querySelector("mjx-container"));
  const untypeset = bare.map(el => el.textContent.trim().slice(0, 60));
  const mathErrors = Array.from(document.querySelectorAll("mjx-merror"))
    .map(el => el.getAttribute("data-mjx-error") || el.textContent.slice(0, 60));
  const raw = [];
  const walker = document.createTreeWalker(document.body || document, NodeFilter.SHOW_TEXT);
  const delimiters = /\$\$|\\\(|\\\[|\\begin\{/;
  const ignored = "pre, code, kbd, samp, script, style, textarea, mjx-container";
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    const m = delimiters.exec(node.data);
    if (!m || !el || el.closest(ignored) || bare.includes(el.closest(".math"))) continue;
    if (!el.checkVisibility()) continue;
    raw.push(node.data.slice(Math.max(0, m.index - 20), m.index + 40).replace(/\s+/g, " "));
  }
  const brokenImages = images.filter(img => img.naturalWidth === 0)
    .map(img => img.getAttribute("src") || img.currentSrc);
  const links = Array.from(document.querySelectorAll("a[href]"))
    .map(a => [a.getAttribute("href"), a.href]);
  const ids = Array.from(document.querySelectorAll("[id]"), el => el.id)
    .concat(Array.from(document.querySelectorAll("a[name]"), a => a.name));
  return {mathjax, hasMath: math.length > 0, untypeset, mathErrors, raw, brokenImages,
          links, ids};
}
