-- The contact directory (issue 12): what linking needs of every contact of a Xero
-- organisation, kept here so that linking a new customer (SPEC §1: by email, then by
-- ContactNumber) is a local lookup instead of Xero calls. Keyed by the organisation, not by
-- the Softbooq tenant: it mirrors Xero, and a tenant reconnected to another organisation must
-- not see the first one's contacts. The one writer is outbox.
CREATE TABLE xerosync.contact_directory (
    xero_tenant_id      text NOT NULL,
    contact_id          uuid NOT NULL,
    name                text NOT NULL DEFAULT '',
    email               text NOT NULL DEFAULT '',      -- lower-cased and trimmed: matched exactly
    contact_number      text NOT NULL DEFAULT '',
    contact_status      text NOT NULL DEFAULT 'ACTIVE', -- ACTIVE, ARCHIVED, GDPRREQUEST
    merged_to           uuid,                           -- MergedToContactID: merged into that contact in Xero
    updated_date_utc    timestamptz,                    -- Xero's UpdatedDateUTC
    seen_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (xero_tenant_id, contact_id)
);

CREATE INDEX contact_directory_email ON xerosync.contact_directory (xero_tenant_id, email) WHERE email <> '';
CREATE INDEX contact_directory_number ON xerosync.contact_directory (xero_tenant_id, contact_number) WHERE contact_number <> '';
CREATE INDEX contact_directory_name ON xerosync.contact_directory (xero_tenant_id, lower(name));

-- Per organisation: whether the directory was filled (a complete paged read of all contacts,
-- archived included), and the If-Modified-Since of the next refresh (the greatest
-- UpdatedDateUTC seen). No row: never filled.
CREATE TABLE xerosync.contact_directory_state (
    xero_tenant_id      text PRIMARY KEY,
    filled_at           timestamptz NOT NULL,
    modified_since      timestamptz,     -- greatest UpdatedDateUTC read from GET /Contacts
    refreshed_at        timestamptz NOT NULL
);
