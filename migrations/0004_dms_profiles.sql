CREATE TABLE `former_members` (
	`room_id` text NOT NULL,
	`user_id` text NOT NULL,
	`left_at` integer NOT NULL,
	PRIMARY KEY(`room_id`, `user_id`),
	FOREIGN KEY (`room_id`) REFERENCES `rooms`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `former_members_user_idx` ON `former_members` (`user_id`);--> statement-breakpoint
ALTER TABLE `rooms` ADD `kind` text DEFAULT 'room' NOT NULL;--> statement-breakpoint
ALTER TABLE `rooms` ADD `dm_key` text;--> statement-breakpoint
CREATE UNIQUE INDEX `rooms_dm_key_unique` ON `rooms` (`dm_key`);--> statement-breakpoint
ALTER TABLE `users` ADD `display_name` text;--> statement-breakpoint
ALTER TABLE `users` ADD `deleted_at` integer;