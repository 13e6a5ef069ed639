DROP TABLE payment_refunds;
DROP TABLE order_payments;
