/**
 * Bookinfo `details`: a book's author, year, ISBN and so on.
 *
 * `GET /details/:id`, `GET /health`.
 *
 * ```
 * PORT=9080 deno run --allow-net --allow-env examples/bookinfo/details.ts
 * ```
 *
 * @module
 */

import { json, readSettings, serve } from "./shared.ts";

const settings = readSettings("details");

serve(settings, (request) => {
  const path = new URL(request.url).pathname;
  if (path === "/health") return json({ status: "Details is healthy" });
  const id = path.match(/^\/details\/([^/]+)$/)?.[1];
  if (id === undefined || request.method !== "GET") return json({ error: "not found" }, 404);
  if (!/^\d+$/.test(id)) return json({ error: "please provide numeric product id" }, 400);
  return json({
    id: Number(id),
    author: "William Shakespeare",
    year: 1595,
    type: "paperback",
    pages: 200,
    publisher: "PublisherA",
    language: "English",
    "ISBN-10": "1234567890",
    "ISBN-13": "123-1234567890",
  });
});
