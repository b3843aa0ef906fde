CREATE TABLE `file_versions` (
	`id` text PRIMARY KEY NOT NULL,
	`file_id` text NOT NULL,
	`n` integer,
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
	`progress_at` integer,
	FOREIGN KEY (`file_id`) REFERENCES `files`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`uploader_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `file_versions_n_idx` ON `file_versions` (`file_id`,`n`);--> statement-breakpoint
CREATE UNIQUE INDEX `file_versions_client_idx` ON `file_versions` (`file_id`,`uploader_id`,`client_id`);--> statement-breakpoint
CREATE INDEX `file_versions_state_idx` ON `file_versions` (`state`,`created_at`);--> statement-breakpoint
ALTER TABLE `files` ADD `version` integer DEFAULT 1 NOT NULL;