/**
 * Bookinfo `productpage`: the page a user sees. It calls `details` and
 * `reviews` (which may call `ratings`) and shows which reviews version
 * answered. Like Istio's bookinfo it forwards the user and trace headers to
 * every call, gives `details` and `reviews` 3 s each, tries `reviews` twice,
 * and shows a "Sorry, ... currently unavailable" message when a call fails.
 *
 * The user comes from `?u=NAME`, else an `end-user` request header, else the
 * `end-user` cookie that the "Sign in" form sets (`POST /login`, `GET /logout`).
 *
 * Routes: `/productpage`, `/login`, `/logout`, `/api/v1/products`,
 * `/api/v1/products/:id`, `/api/v1/products/:id/reviews`,
 * `/api/v1/products/:id/ratings`, `/health`.
 *
 * ```
 * PORT=9080 MESH_OUTBOUND=http://127.0.0.1:15001 \
 *   deno run --allow-net --allow-env examples/bookinfo/productpage.ts
 * ```
 *
 * @module
 */

import {
  callService,
  json,
  propagatedHeaders,
  readSettings,
  serve,
  type ServiceResponse,
} from "./shared.ts";

const settings = readSettings("productpage");
const CALL_TIMEOUT_MS = 3_000;
const REVIEWS_ATTEMPTS = 2;

const products = [{
  id: 0,
  title: "The Comedy of Errors",
  descriptionHtml: '<a href="https://en.wikipedia.org/wiki/The_Comedy_of_Errors">' +
    "Wikipedia Summary</a>: The Comedy of Errors is one of <b>William Shakespeare's</b> early " +
    "plays. It is his shortest and one of his most farcical comedies, with a major part of the " +
    "humour coming from slapstick and mistaken identity, in addition to puns and word play.",
}];

/** A downstream answer: the parsed JSON on 200, else the status and bookinfo's message. */
type Outcome = { status: 200; data: Record<string, unknown> } | { status: number; error: string };

function userOf(request: Request): string | undefined {
  const url = new URL(request.url);
  const cookie = request.headers.get("cookie")?.match(/(?:^|;\s*)end-user=([^;]*)/)?.[1];
  const user = url.searchParams.get("u") ?? request.headers.get("end-user") ??
    (cookie === undefined ? undefined : decodeURIComponent(cookie));
  return user || undefined;
}

function outgoingHeaders(request: Request): Headers {
  const headers = propagatedHeaders(request.headers);
  const user = userOf(request);
  if (user !== undefined) headers.set("end-user", user);
  return headers;
}

async function call(url: string, headers: Headers, attempts: number): Promise<ServiceResponse> {
  let last: ServiceResponse = { status: 500, body: "" };
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      last = await callService(url, { headers, timeoutMs: CALL_TIMEOUT_MS });
      if (last.status === 200) return last;
    } catch (error) {
      console.error(`productpage: ${url}: ${error}`);
      last = { status: 500, body: "" };
    }
  }
  return last;
}

async function outcome(
  service: string,
  path: string,
  headers: Headers,
  attempts = 1,
): Promise<Outcome> {
  const response = await call(`http://${service}:9080${path}`, headers, attempts);
  if (response.status === 200) {
    try {
      return { status: 200, data: JSON.parse(response.body) };
    } catch { /* shown as unavailable below */ }
  }
  const what = service === "details" ? "product details" : `product ${service}`;
  return {
    status: response.status === 200 ? 500 : response.status,
    error: `Sorry, ${what} are currently unavailable for this book.`,
  };
}

function api(outcome: Outcome): Response {
  return json("data" in outcome ? outcome.data : { error: outcome.error }, outcome.status);
}

const escapes: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

function escape(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => escapes[c]);
}

function detailsHtml(details: Outcome): string {
  if (!("data" in details)) return `<p class="error">${escape(details.error)}</p>`;
  const d = details.data;
  return `<dl>
  <dt>Type:</dt><dd>${escape(d.type)}</dd>
  <dt>Pages:</dt><dd>${escape(d.pages)}</dd>
  <dt>Publisher:</dt><dd>${escape(d.publisher)}</dd>
  <dt>Language:</dt><dd>${escape(d.language)}</dd>
  <dt>ISBN-10:</dt><dd>${escape(d["ISBN-10"])}</dd>
  <dt>ISBN-13:</dt><dd>${escape(d["ISBN-13"])}</dd>
</dl>`;
}

interface Review {
  reviewer: string;
  text: string;
  rating?: { stars?: number; color?: string; error?: string };
}

function starsHtml(rating: Review["rating"]): string {
  if (rating === undefined) return "";
  if (rating.error !== undefined) return `<p class="error">${escape(rating.error)}</p>`;
  const stars = Math.max(0, Math.min(5, Number(rating.stars) || 0));
  const color = rating.color === "red" ? "red" : "black";
  return `<p class="stars" data-color="${color}" style="color: ${color}">` +
    `${"★".repeat(stars)}${"☆".repeat(5 - stars)}</p>`;
}

function reviewsHtml(reviews: Outcome): string {
  if (!("data" in reviews)) return `<p class="error">${escape(reviews.error)}</p>`;
  const list = (reviews.data.reviews ?? []) as Review[];
  const items = list.map((review) =>
    `<blockquote><p>${escape(review.text)}</p><small>${escape(review.reviewer)}</small>` +
    `${starsHtml(review.rating)}</blockquote>`
  );
  return `${items.join("\n")}
<p class="served-by">Reviews served by: <b>${escape(reviews.data.podname)}</b>,
version <b data-version="${escape(reviews.data.version)}">${escape(reviews.data.version)}</b></p>`;
}

function signInHtml(user: string | undefined): string {
  if (user !== undefined) {
    return `<p>Signed in as <b class="user">${
      escape(user)
    }</b> · <a href="/logout">Sign out</a></p>`;
  }
  return `<form method="post" action="/login">
  <label>Sign in as <input name="username" placeholder="jason"></label>
  <button type="submit">Sign in</button>
</form>`;
}

async function productPage(request: Request): Promise<Response> {
  const headers = outgoingHeaders(request);
  const [details, reviews] = await Promise.all([
    outcome("details", "/details/0", headers),
    outcome("reviews", "/reviews/0", headers, REVIEWS_ATTEMPTS),
  ]);
  const product = products[0];
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>Simple Bookstore App</title>
<style>body{font-family:sans-serif;max-width:60em;margin:auto}.error{color:#a00}
.stars{font-size:1.3em;margin:0}blockquote{border-left:3px solid #ccc;padding-left:1em}</style>
</head><body>
<header><b>BookInfo Sample</b> ${signInHtml(userOf(request))}</header>
<h1>${escape(product.title)}</h1>
<p>${product.descriptionHtml}</p>
<section id="details"><h2>Book Details</h2>
${detailsHtml(details)}
</section>
<section id="reviews"><h2>Book Reviews</h2>
${reviewsHtml(reviews)}
</section>
</body></html>
`;
  return new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } });
}

async function login(request: Request): Promise<Response> {
  const form = await request.formData().catch(() => new FormData());
  const user = String(form.get("username") ?? "").trim();
  if (!/^[\w.@-]{1,64}$/.test(user)) {
    return new Response("give a user name of letters, digits, '.', '_', '@' or '-'\n", {
      status: 400,
    });
  }
  return new Response(null, {
    status: 302,
    headers: { location: "/productpage", "set-cookie": `end-user=${user}; Path=/; SameSite=Lax` },
  });
}

function logout(): Response {
  return new Response(null, {
    status: 302,
    headers: { location: "/productpage", "set-cookie": "end-user=; Path=/; Max-Age=0" },
  });
}

serve(settings, async (request) => {
  const path = new URL(request.url).pathname;
  const method = request.method;
  if (path === "/health") return json({ status: "Product page is healthy" });
  if (path === "/productpage" && method === "GET") return await productPage(request);
  if (path === "/login" && method === "POST") return await login(request);
  if (path === "/logout") return logout();
  if (path === "/" && method === "GET") {
    return new Response(null, { status: 302, headers: { location: "/productpage" } });
  }
  if (path === "/api/v1/products" && method === "GET") {
    return json(products);
  }
  const apiMatch = path.match(/^\/api\/v1\/products\/(\d+)(\/reviews|\/ratings)?$/);
  if (apiMatch && method === "GET") {
    const [, id, sub] = apiMatch;
    const headers = outgoingHeaders(request);
    if (sub === undefined) return api(await outcome("details", `/details/${id}`, headers));
    if (sub === "/reviews") {
      return api(await outcome("reviews", `/reviews/${id}`, headers, REVIEWS_ATTEMPTS));
    }
    return api(await outcome("ratings", `/ratings/${id}`, headers));
  }
  return json({ error: `not found: ${method} ${path}` }, 404);
});
