pub struct FilesProvider;
pub struct StorageConfig;
