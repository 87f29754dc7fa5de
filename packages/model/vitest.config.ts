import { meridianVitest } from "../../vitest.shared";

export default meridianVitest("model");
