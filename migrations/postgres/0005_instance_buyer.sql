-- Who bought the instance, when the call says so (V1 newInstance): JSON with customerId, customerName,
-- userId, userName, the decoded saasExtendParams (and their raw text), and the mobile number and e-mail
-- only AEAD-sealed, bound to the instance ID.
ALTER TABLE instances ADD COLUMN buyer TEXT;
