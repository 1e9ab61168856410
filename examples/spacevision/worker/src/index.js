// SpaceVision API worker (ES-module format). Bindings (see wrangler.toml):
//   SESSIONS (KV)  bearer-token sessions        CACHE (KV)  list pages and stats
//   DB (D1)        users, observations, uploads UPLOADS (R2) observation images

import { API_PREFIX } from "@spacevision/shared";
import { runScheduled } from "./cron.js";
import { HttpError, error, withCors } from "./http.js";
import { Router } from "./router.js";
import { deepHealth, health } from "./routes/health.js";
import {
  createObservation,
  deleteObservation,
  getObservation,
  listObservations,
  updateObservation,
} from "./routes/observations.js";
import { signIn, signOut, whoAmI } from "./routes/sessions.js";
import { getStats } from "./routes/stats.js";
import { deleteUpload, getUpload, putUpload } from "./routes/uploads.js";

export const router = new Router()
  .on("GET", "/health", health)
  .on("GET", "/health/deep", deepHealth)
  .on("POST", `${API_PREFIX}/sessions`, signIn)
  .on("DELETE", `${API_PREFIX}/sessions`, signOut)
  .on("GET", `${API_PREFIX}/me`, whoAmI)
  .on("GET", `${API_PREFIX}/observations`, listObservations)
  .on("POST", `${API_PREFIX}/observations`, createObservation)
  .on("GET", `${API_PREFIX}/observations/:id`, getObservation)
  .on("PUT", `${API_PREFIX}/observations/:id`, updateObservation)
  .on("DELETE", `${API_PREFIX}/observations/:id`, deleteObservation)
  .on("PUT", `${API_PREFIX}/uploads/:name`, putUpload)
  .on("DELETE", `${API_PREFIX}/uploads/:name`, deleteUpload)
  .on("GET", `${API_PREFIX}/uploads/:userId/:name`, getUpload)
  .on("GET", `${API_PREFIX}/stats`, getStats);

export default {
  /**
   * @param {Request} request
   * @param {import("./router.js").Env} env
   * @param {import("./router.js").ExecutionContext} ctx
   */
  async fetch(request, env, ctx) {
    const origin = env.ALLOWED_ORIGIN || "*";
    if (request.method === "OPTIONS") return withCors(new Response(null, { status: 204 }), origin);
    const url = new URL(request.url);
    const { handler, params, allowed } = router.match(request.method, url.pathname);
    let response;
    if (handler) {
      try {
        response = await handler({ request, env, ctx, url, params });
      } catch (err) {
        if (err instanceof HttpError) {
          response = err.toResponse();
        } else {
          console.error(JSON.stringify({ msg: "unhandled error", path: url.pathname, error: String(err) }));
          response = error(500, "internal", "something went wrong; it has been logged");
        }
      }
    } else if (allowed.length > 0) {
      response = error(405, "method_not_allowed", `use ${allowed.join(", ")}`);
      response.headers.set("allow", allowed.join(", "));
    } else {
      response = error(404, "not_found", `no route for ${url.pathname}`);
    }
    return withCors(response, origin);
  },

  /**
   * @param {{ cron: string, scheduledTime: number }} event
   * @param {import("./router.js").Env} env
   * @param {import("./router.js").ExecutionContext} ctx
   */
  async scheduled(event, env, ctx) {
    ctx.waitUntil(runScheduled(event, env));
  },
};
