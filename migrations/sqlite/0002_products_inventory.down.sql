DROP TABLE inventory;
DROP TABLE products;
