-- The instance's plan from the marketplace's order query (JSON: productId, skuCode, linearValue, productName,
-- chargingMode, periodType, periodNumber, expireTime), kept current by the order-sync job.
ALTER TABLE instances ADD COLUMN plan TEXT;
