import { meridianVitest } from "../../vitest.shared";

export default meridianVitest("api");
