-- The merchant application's refusal of a new order (JSON: code 000100–000107, message), when it refused:
-- the instance is then failed, and every later delivery of the order is answered with that refusal.
ALTER TABLE instances ADD COLUMN refusal TEXT;
