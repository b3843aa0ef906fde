CREATE TABLE `rate_windows` (
	`key` text PRIMARY KEY NOT NULL,
	`window_end` integer NOT NULL,
	`used` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `files` ADD `progress_at` integer;--> statement-breakpoint
ALTER TABLE `login_failures` ADD `next_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `login_failures` ADD `allowed` integer DEFAULT 1 NOT NULL;