import { INT32_MAX } from "@meridian/model";
import { z } from "zod";

export const roleSchema = z.enum(["admin", "operator", "viewer"]);

export const passwordSchema = z
  .string()
  .min(12, "use at least 12 characters")
  .max(1024, "at most 1024 characters");

export const userOutput = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: roleSchema,
  disabled: z.boolean(),
  version: z.number().int(),
  createdAt: z.date(),
  updatedAt: z.date(),
  updatedBy: z.string(),
});

export const userCreateInput = z.object({
  email: z
    .string()
    .max(254, "an email address is at most 254 characters")
    .trim()
    .toLowerCase()
    .pipe(z.email("not an email address")),
  name: z.string().trim().max(200).default(""),
  role: roleSchema,
  password: passwordSchema,
});

export const userUpdateInput = z.object({
  id: z.string().uuid(),
  version: z.number().int().min(1).max(INT32_MAX),
  name: z.string().trim().max(200).optional(),
  role: roleSchema.optional(),
  disabled: z.boolean().optional(),
  password: passwordSchema.optional(),
});
