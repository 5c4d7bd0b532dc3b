-- Relevant request headers of each call (content type, length, user agent, forwarding), as JSON.
ALTER TABLE audit_log ADD COLUMN request_headers TEXT;
