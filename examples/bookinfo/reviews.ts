/**
 * Bookinfo `reviews`: two reviews of a book. The version decides the rest, as
 * in Istio's bookinfo: v1 shows no stars and never calls `ratings`; v2 calls
 * `ratings` and shows black stars; v3 calls `ratings` and shows red stars.
 * Like the original, v2 waits 10 s for `ratings` and v3 2.5 s (the ratings
 * fault-injection task depends on these numbers).
 *
 * `GET /reviews/:id` → `{"id", "podname", "clustername", "version", "reviews": [...]}`,
 * `GET /health`.
 *
 * ```
 * PORT=9080 VERSION=v2 MESH_OUTBOUND=http://127.0.0.1:15001 \
 *   deno run --allow-net --allow-env examples/bookinfo/reviews.ts
 * ```
 *
 * @module
 */

import { callService, json, propagatedHeaders, readSettings, serve } from "./shared.ts";

const settings = readSettings("reviews");
const color = ({ v2: "black", v3: "red" } as Record<string, string>)[settings.version];
const ratingsTimeoutMs = color === "black" ? 10_000 : 2_500;

const texts = [
  {
    reviewer: "Reviewer1",
    text: "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!",
  },
  {
    reviewer: "Reviewer2",
    text: "Absolutely fun and entertaining. The play lacks thematic depth when compared to " +
      "other plays by Shakespeare.",
  },
];

type Rating = { stars: number; color: string } | { error: string };

async function fetchRatings(id: string, request: Request): Promise<Record<string, number>> {
  const response = await callService(`http://ratings:9080/ratings/${id}`, {
    headers: propagatedHeaders(request.headers),
    timeoutMs: ratingsTimeoutMs,
  });
  if (response.status !== 200) throw new Error(`ratings answered ${response.status}`);
  return JSON.parse(response.body).ratings;
}

serve(settings, async (request) => {
  const path = new URL(request.url).pathname;
  if (path === "/health") return json({ status: "Reviews is healthy" });
  const id = path.match(/^\/reviews\/([^/]+)$/)?.[1];
  if (id === undefined || request.method !== "GET") return json({ error: "not found" }, 404);
  if (!/^\d+$/.test(id)) return json({ error: "please provide numeric product id" }, 400);

  let rating: (reviewer: string) => Rating | undefined = () => undefined;
  if (color !== undefined) {
    try {
      const stars = await fetchRatings(id, request);
      rating = (reviewer) => ({ stars: stars[reviewer], color });
    } catch (error) {
      console.error(`reviews ${settings.version}: ratings call failed: ${error}`);
      rating = () => ({ error: "Ratings service is currently unavailable" });
    }
  }
  return json({
    id,
    podname: `${settings.service}-${settings.version}`,
    clustername: Deno.env.get("CLUSTER_NAME") ?? "null",
    version: settings.version,
    reviews: texts.map((review) => ({ ...review, rating: rating(review.reviewer) })),
  });
});
