ALTER TABLE `rooms` ADD `version` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `rooms` ADD `synced_version` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `rooms_unsynced_idx` ON `rooms` (`id`) WHERE "rooms"."version" != "rooms"."synced_version";