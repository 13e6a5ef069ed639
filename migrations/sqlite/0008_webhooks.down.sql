DROP TABLE webhook_events;
DROP TABLE queue_dedupe;
