DROP TABLE queue_dead_letters;
DROP TABLE queue_messages;
