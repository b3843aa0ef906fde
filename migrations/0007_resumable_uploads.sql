CREATE TABLE `upload_parts` (
	`upload_id` text NOT NULL,
	`n` integer NOT NULL,
	`etag` text NOT NULL,
	PRIMARY KEY(`upload_id`, `n`),
	FOREIGN KEY (`upload_id`) REFERENCES `uploads`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `uploads` (
	`id` text PRIMARY KEY NOT NULL,
	`room_id` text NOT NULL,
	`uploader_id` text NOT NULL,
	`client_id` text NOT NULL,
	`file_id` text NOT NULL,
	`r2_key` text NOT NULL,
	`r2_upload_id` text NOT NULL,
	`name` text NOT NULL,
	`size` integer NOT NULL,
	`type` text NOT NULL,
	`description` text NOT NULL,
	`part_size` integer NOT NULL,
	`state` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`room_id`) REFERENCES `rooms`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`uploader_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `uploads_client_idx` ON `uploads` (`room_id`,`uploader_id`,`client_id`);--> statement-breakpoint
CREATE INDEX `uploads_state_idx` ON `uploads` (`state`,`created_at`);