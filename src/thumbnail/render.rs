use super::icons::IconKind;
#[derive(Clone, Copy, Debug, PartialEq, Eq)] pub enum Format { Jpeg, Png }
impl Format { pub fn mime(self) -> &'static str { match self { Format::Jpeg => "image/jpeg", Format::Png => "image/png" } } }
pub struct Thumb { pub bytes: Vec<u8>, pub format: Format, pub width: u32, pub height: u32 }
#[derive(Debug, Default)] pub struct Limits { pub max_alloc: u64 }
#[derive(Debug)] pub enum RenderError { Unsupported, TooLarge, Damaged(String), Timeout, Io(std::io::Error) }
impl std::fmt::Display for RenderError { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") } }
pub fn preview(_file: std::fs::File, _hint: IconKind, _width: u32, _limits: &Limits, _deadline: std::time::Instant) -> Result<Thumb, RenderError> { Err(RenderError::Unsupported) }
pub fn helpers() -> String { String::new() }
