// API types shared by the worker, the web app and the tests, written as JSDoc so that
// editors and `tsc --checkJs` understand them without a build step.

/**
 * One logged observation of a sky object.
 * @typedef {object} Observation
 * @property {number} id
 * @property {number} userId
 * @property {string} target        Catalogue name, e.g. "M31" or "NGC 7000".
 * @property {string} observedAt    ISO 8601 timestamp (UTC).
 * @property {1|2|3|4|5} seeing     Antoniadi scale: 1 perfect … 5 very poor.
 * @property {string} notes
 * @property {string|null} imageKey R2 key of an attached image, if any.
 * @property {string} createdAt
 */

/**
 * What a client sends to create or replace an observation.
 * @typedef {object} NewObservation
 * @property {string} target
 * @property {string} observedAt
 * @property {number} seeing
 * @property {string} [notes]
 * @property {string|null} [imageKey]
 */

/**
 * A signed-in user's session, stored in KV under `session:<token>`.
 * @typedef {object} Session
 * @property {number} userId
 * @property {string} name
 * @property {string} createdAt
 */

/**
 * `GET /health` response.
 * @typedef {object} HealthResponse
 * @property {true} ok
 * @property {string} version
 */

/**
 * Error body of every non-2xx API response.
 * @typedef {object} ApiError
 * @property {false} ok
 * @property {string} error           Machine-readable code, e.g. "validation_failed".
 * @property {string} message         Human-readable explanation.
 * @property {Record<string, string>} [fields] Per-field validation messages.
 */

/**
 * A page of results.
 * @template T
 * @typedef {object} Page
 * @property {T[]} items
 * @property {string|null} nextCursor
 */

export {};
