-- The product that identifies an instance within its order, unique per order: pay-per-use orders hold one
-- instance per product whatever the order line (saas-v2.md §3, saas-v1.md §2). V2 sets it for pay-per-use
-- orders (from the order query), V1 whenever the call names the product; NULL (never equal) otherwise.
ALTER TABLE instances ADD COLUMN order_product TEXT;
CREATE UNIQUE INDEX instances_order_product ON instances (order_id, order_product);
