CREATE TABLE `files` (
	`id` text PRIMARY KEY NOT NULL,
	`room_id` text NOT NULL,
	`uploader_id` text NOT NULL,
	`client_id` text NOT NULL,
	`r2_key` text NOT NULL,
	`thumb_key` text,
	`name` text NOT NULL,
	`size` integer NOT NULL,
	`type` text NOT NULL,
	`description` text NOT NULL,
	`state` text NOT NULL,
	`seq` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`room_id`) REFERENCES `rooms`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`uploader_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `files_client_idx` ON `files` (`room_id`,`uploader_id`,`client_id`);--> statement-breakpoint
CREATE INDEX `files_room_idx` ON `files` (`room_id`,`state`,`created_at`);--> statement-breakpoint
CREATE INDEX `files_state_idx` ON `files` (`state`,`created_at`);