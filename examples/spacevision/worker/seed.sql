-- Development seed data (sv.yaml: onboarding.seed). Applied after the migrations to a
-- developer's own D1 database; safe to re-run.

INSERT OR IGNORE INTO users (id, email, name, phone) VALUES
    (1, 'ada@example.org', 'Ada', '+44 20 7946 0001'),
    (2, 'carl@example.org', 'Carl', NULL);

INSERT OR IGNORE INTO observations (id, user_id, target, observed_at, seeing, notes) VALUES
    (1, 1, 'M31', '2026-09-20T21:40:00Z', 2, 'Andromeda core bright; dust lane visible with averted vision.'),
    (2, 1, 'M42', '2026-10-02T03:15:00Z', 3, 'Trapezium split at 150x.'),
    (3, 2, 'NGC 7000', '2026-08-11T22:05:00Z', 1, 'North America Nebula with an OIII filter.');
