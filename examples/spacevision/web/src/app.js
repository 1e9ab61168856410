// The page's behaviour: sign in, list observations page by page, log a new one with an
// optional image. Registers the service worker for offline use of the shell.

import { SpaceVisionClient, ApiError } from "./api.js";
import { API_BASE_URL, APP_VERSION } from "./config.js";

const client = new SpaceVisionClient(API_BASE_URL || location.origin);
const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
let nextCursor = /** @type {string | null} */ (null);

function setStatus(text) {
  $("status").textContent = text;
}

/** @param {import("@spacevision/shared").Observation} o */
function renderObservation(o) {
  const li = document.createElement("li");
  const title = document.createElement("strong");
  title.textContent = `${o.target} — seeing ${o.seeing}/5`;
  const when = document.createElement("div");
  when.textContent = new Date(o.observedAt).toUTCString();
  const notes = document.createElement("p");
  notes.textContent = o.notes;
  li.append(title, when, notes);
  if (o.imageKey) {
    const img = document.createElement("img");
    img.src = `${client.baseUrl}/api/uploads/${o.userId}/${encodeURIComponent(o.imageKey)}`;
    img.alt = `${o.target} image`;
    img.loading = "lazy";
    li.append(img);
  }
  return li;
}

async function loadPage(reset) {
  if (reset) {
    $("observations").replaceChildren();
    nextCursor = null;
  }
  const page = await client.listObservations({ cursor: nextCursor });
  $("observations").append(...page.items.map(renderObservation));
  nextCursor = page.nextCursor;
  $("more").hidden = !nextCursor;
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(/** @type {HTMLFormElement} */ (event.target));
  try {
    await client.signIn(String(form.get("name")), String(form.get("email")));
    $("sign-in").hidden = true;
    $("new-observation").hidden = false;
    setStatus(`signed in as ${form.get("name")}`);
  } catch (err) {
    setStatus(err instanceof Error ? err.message : String(err));
  }
});

$("observation-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const formEl = /** @type {HTMLFormElement} */ (event.target);
  const form = new FormData(formEl);
  const errors = $("form-errors");
  errors.textContent = "";
  try {
    let imageKey = null;
    const file = /** @type {File} */ (form.get("image"));
    if (file && file.size > 0) {
      imageKey = file.name.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 128);
      await client.upload(imageKey, file);
    }
    await client.createObservation({
      target: String(form.get("target")),
      observedAt: new Date(`${form.get("observedAt")}Z`).toISOString(),
      seeing: Number(form.get("seeing")),
      notes: String(form.get("notes") || ""),
      imageKey,
    });
    formEl.reset();
    await loadPage(true);
  } catch (err) {
    if (err instanceof ApiError && Object.keys(err.fields).length > 0) {
      errors.textContent = Object.entries(err.fields).map(([k, v]) => `${k}: ${v}`).join("\n");
    } else {
      errors.textContent = err instanceof Error ? err.message : String(err);
    }
  }
});

$("more").addEventListener("click", () => loadPage(false).catch((err) => setStatus(String(err))));

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("./sw.js").catch((err) => setStatus(`offline mode unavailable: ${err}`));
}
setStatus(`v${APP_VERSION}`);
loadPage(true).catch((err) => setStatus(`could not load observations: ${err.message}`));
