// A single-page app: everything renders in the browser, served by the Worker's
// static assets with an index.html fallback.
export const ssr = false;
export const prerender = false;
