/**
 * Bookinfo `ratings`: the star ratings of a book's reviews.
 *
 * `GET /ratings/:id` → `{"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}`, `GET /health`.
 *
 * ```
 * PORT=9080 deno run --allow-net --allow-env examples/bookinfo/ratings.ts
 * ```
 *
 * @module
 */

import { json, readSettings, serve } from "./shared.ts";

const settings = readSettings("ratings");
const ratings = { Reviewer1: 5, Reviewer2: 4 };

serve(settings, (request) => {
  const path = new URL(request.url).pathname;
  if (path === "/health") return json({ status: "Ratings is healthy" });
  const id = path.match(/^\/ratings\/([^/]+)$/)?.[1];
  if (id === undefined || request.method !== "GET") return json({ error: "not found" }, 404);
  if (!/^\d+$/.test(id)) return json({ error: "please provide numeric product ID" }, 400);
  return json({ id: Number(id), ratings });
});
