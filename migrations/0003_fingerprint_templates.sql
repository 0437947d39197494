-- Learned message templates (fingerprint v3): the store learn_template merges messages into, and the
-- append-only log of every change to it, from which the store can be rebuilt (replay_template_log).
-- depends: 0002_recovery_candidates

-- One row per learned template. `shape_key` is what a message must share with a template before they
-- are compared at all: its token count and first token (see template_shape). `tokens` is the
-- template, '<*>' where the messages merged into it differed. `template_key` is the template's
-- identity for its whole life (it stays when a merge widens the template): the v3 signature is
-- computed from it, so a merge never changes the signature of the failures already grouped.
-- Counters such as "messages matched" are deliberately absent: a message that matches a template
-- writes nothing here, so concurrent ingests of one known failure never queue on this row.
CREATE TABLE m10_recovery.message_templates (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    template_key  text        NOT NULL UNIQUE CHECK (template_key ~ '^[0-9a-f]{32}$'),
    shape_key     text        NOT NULL,
    tokens        text[]      NOT NULL,
    template      text        NOT NULL,
    fixed_count   integer     NOT NULL CHECK (fixed_count >= 0),
    version       integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_templates_shape_idx ON m10_recovery.message_templates (shape_key, id);
-- A message equal to a template (the usual case once a template has learned its variables) is found
-- by one index probe instead of a comparison with every template of its shape.
CREATE INDEX message_templates_text_idx ON m10_recovery.message_templates (md5(template), id);

COMMENT ON TABLE m10_recovery.message_templates IS
    'Learned message templates (fingerprint v3): one per group of messages, widened by recorded merges';

-- Every change to the store, in order: 'created' (a message that matched no template became one) and
-- 'merged' (a message was merged into a template; variable_positions turned into <*>). Append-only.
-- Replaying the rows in id order rebuilds message_templates exactly (replay_template_log).
CREATE TABLE m10_recovery.template_merges (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    template_id        bigint      NOT NULL REFERENCES m10_recovery.message_templates (id),
    template_key       text        NOT NULL,
    event              text        NOT NULL CHECK (event IN ('created', 'merged')),
    template_version   integer     NOT NULL CHECK (template_version >= 1),
    message_tokens     text[]      NOT NULL,
    template_before    text[],
    template_after     text[]      NOT NULL,
    similarity         real        CHECK (similarity BETWEEN 0 AND 1),
    threshold          real        NOT NULL,
    variable_positions integer[]   NOT NULL DEFAULT '{}',
    algorithm          text        NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT template_merges_created_shape CHECK (event = 'merged' OR template_before IS NULL)
);
CREATE INDEX template_merges_template_idx ON m10_recovery.template_merges (template_id, id);

COMMENT ON TABLE m10_recovery.template_merges IS
    'Append-only log of the template store: each created template and each merge, with its similarity';

-- The learned template a candidate was grouped by (NULL for candidates fingerprinted before v3).
ALTER TABLE m10_recovery.recovery_candidates
    ADD COLUMN template_id bigint REFERENCES m10_recovery.message_templates (id);
CREATE INDEX rc_template_idx ON m10_recovery.recovery_candidates (template_id) WHERE template_id IS NOT NULL;

INSERT INTO m10_recovery.settings (key, value, description) VALUES
    ('template_similarity_threshold', '0.5',
     'Share of token positions a message must have equal to a known template of its shape to be merged into it (fingerprint v3)');
