DROP TABLE order_attachments;
DROP TABLE files;
