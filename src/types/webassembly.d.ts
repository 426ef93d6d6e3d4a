// The slice of the WebAssembly JS API that meshbox uses. TypeScript ships these types only with the DOM
// lib, which would wrongly put browser globals into a Node project.
declare namespace WebAssembly {
	type ImportExportKind = 'function' | 'table' | 'memory' | 'global' | 'tag';
	type ModuleExportDescriptor = { name: string; kind: ImportExportKind };
	type ModuleImportDescriptor = { module: string; name: string; kind: ImportExportKind };

	class Module {
		constructor(bytes: BufferSource);
		static exports(module: Module): ModuleExportDescriptor[];
		static imports(module: Module): ModuleImportDescriptor[];
		static customSections(module: Module, sectionName: string): ArrayBuffer[];
	}

	function validate(bytes: BufferSource): boolean;
	type BufferSource = ArrayBufferView | ArrayBuffer;
}
