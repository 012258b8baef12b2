//! MTP 1.1 / PTP (ISO 15740) code tables: operations, responses, events, object formats,
//! object and device properties, datatypes.
//!
//! # Spec
//! MTP 1.1 appendix tables; cross-checked in `shared/docs/MTP-NOTES.md` §5. Every enum has
//! an `Unknown(u16)` variant so that any 16-bit value parses without loss.

macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:expr),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* #[doc = concat!("`", stringify!($value), "` ", stringify!($variant))] $variant,)+
            /// A code this table does not name, kept as it arrived.
            Unknown(u16),
        }

        impl $name {
            /// Every named code of this table, in table order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// Returns the code for a raw value; values not in the table become `Unknown`.
            pub const fn from_u16(v: u16) -> Self {
                match v {
                    $($value => Self::$variant,)+
                    other => Self::Unknown(other),
                }
            }

            /// Returns the raw 16-bit value.
            pub const fn to_u16(self) -> u16 {
                match self {
                    $(Self::$variant => $value,)+
                    Self::Unknown(v) => v,
                }
            }

            /// Returns the spec name, or `None` for an unknown code.
            pub const fn name(self) -> Option<&'static str> {
                match self {
                    $(Self::$variant => Some(stringify!($variant)),)+
                    Self::Unknown(_) => None,
                }
            }
        }

        impl From<u16> for $name {
            fn from(v: u16) -> Self {
                Self::from_u16(v)
            }
        }

        impl From<$name> for u16 {
            fn from(c: $name) -> Self {
                c.to_u16()
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{n}(0x{:04X})", self.to_u16()),
                    None => write!(f, "0x{:04X}", self.to_u16()),
                }
            }
        }
    };
}

code_enum! {
    /// Operation codes (MTP 1.1 table, PTP operations, MTP additions, Android extensions).
    OperationCode {
        GetDeviceInfo = 0x1001, OpenSession = 0x1002, CloseSession = 0x1003,
        GetStorageIds = 0x1004, GetStorageInfo = 0x1005, GetNumObjects = 0x1006,
        GetObjectHandles = 0x1007, GetObjectInfo = 0x1008, GetObject = 0x1009,
        GetThumb = 0x100A, DeleteObject = 0x100B, SendObjectInfo = 0x100C,
        SendObject = 0x100D, InitiateCapture = 0x100E, FormatStore = 0x100F,
        ResetDevice = 0x1010, SelfTest = 0x1011, SetObjectProtection = 0x1012,
        PowerDown = 0x1013, GetDevicePropDesc = 0x1014, GetDevicePropValue = 0x1015,
        SetDevicePropValue = 0x1016, ResetDevicePropValue = 0x1017,
        TerminateOpenCapture = 0x1018, MoveObject = 0x1019, CopyObject = 0x101A,
        GetPartialObject = 0x101B, InitiateOpenCapture = 0x101C,
        GetServiceIds = 0x9301, GetServiceInfo = 0x9302, GetServiceCapabilities = 0x9303,
        GetServicePropDesc = 0x9304, GetServicePropList = 0x9305, SetServicePropList = 0x9306,
        UpdateObjectPropList = 0x9307, DeleteObjectPropList = 0x9308,
        DeleteServicePropList = 0x9309, GetFormatCapabilities = 0x930A,
        GetPartialObject64 = 0x95C1, SendPartialObject = 0x95C2, TruncateObject = 0x95C3,
        BeginEditObject = 0x95C4, EndEditObject = 0x95C5,
        GetObjectPropsSupported = 0x9801, GetObjectPropDesc = 0x9802,
        GetObjectPropValue = 0x9803, SetObjectPropValue = 0x9804,
        GetObjectPropList = 0x9805, SetObjectPropList = 0x9806,
        GetInterdependentPropDesc = 0x9807, SendObjectPropList = 0x9808,
        GetObjectReferences = 0x9810, SetObjectReferences = 0x9811,
        UpdateDeviceFirmware = 0x9812, Skip = 0x9820,
    }
}

code_enum! {
    /// Response codes (PTP 0x20xx, MTP 0xA8xx).
    ResponseCode {
        Undefined = 0x2000, Ok = 0x2001, GeneralError = 0x2002, SessionNotOpen = 0x2003,
        InvalidTransactionId = 0x2004, OperationNotSupported = 0x2005,
        ParameterNotSupported = 0x2006, IncompleteTransfer = 0x2007,
        InvalidStorageId = 0x2008, InvalidObjectHandle = 0x2009,
        DevicePropNotSupported = 0x200A, InvalidObjectFormatCode = 0x200B, StoreFull = 0x200C,
        ObjectWriteProtected = 0x200D, StoreReadOnly = 0x200E, AccessDenied = 0x200F,
        NoThumbnailPresent = 0x2010, SelfTestFailed = 0x2011, PartialDeletion = 0x2012,
        StoreNotAvailable = 0x2013, SpecificationByFormatUnsupported = 0x2014,
        NoValidObjectInfo = 0x2015, InvalidCodeFormat = 0x2016, UnknownVendorCode = 0x2017,
        CaptureAlreadyTerminated = 0x2018, DeviceBusy = 0x2019, InvalidParentObject = 0x201A,
        InvalidDevicePropFormat = 0x201B, InvalidDevicePropValue = 0x201C,
        InvalidParameter = 0x201D, SessionAlreadyOpen = 0x201E,
        TransactionCancelled = 0x201F, SpecificationOfDestinationUnsupported = 0x2020,
        InvalidObjectPropCode = 0xA801, InvalidObjectPropFormat = 0xA802,
        InvalidObjectPropValue = 0xA803, InvalidObjectReference = 0xA804,
        GroupNotSupported = 0xA805, InvalidDataset = 0xA806,
        SpecificationByGroupUnsupported = 0xA807, SpecificationByDepthUnsupported = 0xA808,
        ObjectTooLarge = 0xA809, ObjectPropNotSupported = 0xA80A,
    }
}

code_enum! {
    /// Event codes (sent on the interrupt endpoint).
    EventCode {
        Undefined = 0x4000, CancelTransaction = 0x4001, ObjectAdded = 0x4002,
        ObjectRemoved = 0x4003, StoreAdded = 0x4004, StoreRemoved = 0x4005,
        DevicePropChanged = 0x4006, ObjectInfoChanged = 0x4007, DeviceInfoChanged = 0x4008,
        RequestObjectTransfer = 0x4009, StoreFull = 0x400A, DeviceReset = 0x400B,
        StorageInfoChanged = 0x400C, CaptureComplete = 0x400D, UnreportedStatus = 0x400E,
        ObjectPropChanged = 0xC801, ObjectPropDescChanged = 0xC802,
        ObjectReferencesChanged = 0xC803,
    }
}

code_enum! {
    /// Object format codes.
    ObjectFormat {
        Undefined = 0x3000, Association = 0x3001, Script = 0x3002, Executable = 0x3003,
        Text = 0x3004, Html = 0x3005, Dpof = 0x3006, Aiff = 0x3007, Wav = 0x3008,
        Mp3 = 0x3009, Avi = 0x300A, Mpeg = 0x300B, Asf = 0x300C,
        UnknownImage = 0x3800, ExifJpeg = 0x3801, TiffEp = 0x3802, FlashPix = 0x3803,
        Bmp = 0x3804, Ciff = 0x3805, Gif = 0x3807, Jfif = 0x3808, Cd = 0x3809,
        Pict = 0x380A, Png = 0x380B, Tiff = 0x380D, TiffIt = 0x380E, Jp2 = 0x380F,
        Jpx = 0x3810, Dng = 0x3811, Heif = 0x3812,
        UndefinedFirmware = 0xB802, WindowsImageFormat = 0xB881,
        UndefinedAudio = 0xB900, Wma = 0xB901, Ogg = 0xB902, Aac = 0xB903,
        Audible = 0xB904, Flac = 0xB906,
        UndefinedVideo = 0xB980, Wmv = 0xB981, Mp4Container = 0xB982, Mp2 = 0xB983,
        ThreeGpContainer = 0xB984,
        UndefinedCollection = 0xBA00, AbstractMultimediaAlbum = 0xBA01,
        AbstractImageAlbum = 0xBA02, AbstractAudioAlbum = 0xBA03,
        AbstractVideoAlbum = 0xBA04, AbstractAvPlaylist = 0xBA05,
        AbstractContactGroup = 0xBA06, AbstractMessageFolder = 0xBA07,
        AbstractChapteredProduction = 0xBA08, AbstractAudioPlaylist = 0xBA09,
        AbstractVideoPlaylist = 0xBA0A, AbstractMediacast = 0xBA0B,
        WplPlaylist = 0xBA10, M3uPlaylist = 0xBA11, MplPlaylist = 0xBA12,
        AsxPlaylist = 0xBA13, PlsPlaylist = 0xBA14,
        UndefinedDocument = 0xBA80, AbstractDocument = 0xBA81, XmlDocument = 0xBA82,
        MsWordDocument = 0xBA83, MhtCompiledHtmlDocument = 0xBA84,
        MsExcelSpreadsheet = 0xBA85, MsPowerpointPresentation = 0xBA86,
        UndefinedMessage = 0xBB00, AbstractMessage = 0xBB01,
        UndefinedContact = 0xBB80, AbstractContact = 0xBB81, VCard2 = 0xBB82,
    }
}

code_enum! {
    /// Object property codes (MTP 1.1 appendix B).
    ObjectPropCode {
        StorageId = 0xDC01, ObjectFormat = 0xDC02, ProtectionStatus = 0xDC03,
        ObjectSize = 0xDC04, AssociationType = 0xDC05, AssociationDesc = 0xDC06,
        ObjectFileName = 0xDC07, DateCreated = 0xDC08, DateModified = 0xDC09,
        Keywords = 0xDC0A, ParentObject = 0xDC0B, AllowedFolderContents = 0xDC0C,
        Hidden = 0xDC0D, SystemObject = 0xDC0E,
        PersistentUniqueObjectIdentifier = 0xDC41, SyncId = 0xDC42, PropertyBag = 0xDC43,
        Name = 0xDC44, CreatedBy = 0xDC45, Artist = 0xDC46, DateAuthored = 0xDC47,
        Description = 0xDC48, UrlReference = 0xDC49, LanguageLocale = 0xDC4A,
        CopyrightInformation = 0xDC4B, Source = 0xDC4C, OriginLocation = 0xDC4D,
        DateAdded = 0xDC4E, NonConsumable = 0xDC4F, CorruptUnplayable = 0xDC50,
        ProducerSerialNumber = 0xDC51,
        RepresentativeSampleFormat = 0xDC81, RepresentativeSampleSize = 0xDC82,
        RepresentativeSampleHeight = 0xDC83, RepresentativeSampleWidth = 0xDC84,
        RepresentativeSampleDuration = 0xDC85, RepresentativeSampleData = 0xDC86,
        Width = 0xDC87, Height = 0xDC88, Duration = 0xDC89, Rating = 0xDC8A,
        Track = 0xDC8B, Genre = 0xDC8C, Credits = 0xDC8D, Lyrics = 0xDC8E,
        SubscriptionContentId = 0xDC8F, ProducedBy = 0xDC90, UseCount = 0xDC91,
        SkipCount = 0xDC92, LastAccessed = 0xDC93, ParentalRating = 0xDC94,
        MetaGenre = 0xDC95, Composer = 0xDC96, EffectiveRating = 0xDC97,
        Subtitle = 0xDC98, OriginalReleaseDate = 0xDC99, AlbumName = 0xDC9A,
        AlbumArtist = 0xDC9B, Mood = 0xDC9C, DrmStatus = 0xDC9D, SubDescription = 0xDC9E,
        IsCropped = 0xDCD1, IsColourCorrected = 0xDCD2, ImageBitDepth = 0xDCD3,
        Fnumber = 0xDCD4, ExposureTime = 0xDCD5, ExposureIndex = 0xDCD6,
        DisplayName = 0xDCE0, BodyText = 0xDCE1, Subject = 0xDCE2, Priority = 0xDCE3,
        TotalBitRate = 0xDE91, BitrateType = 0xDE92, SampleRate = 0xDE93,
        NumberOfChannels = 0xDE94, AudioBitDepth = 0xDE95, ScanType = 0xDE97,
        AudioWaveCodec = 0xDE99, AudioBitRate = 0xDE9A, VideoFourCcCodec = 0xDE9B,
        VideoBitRate = 0xDE9C, FramesPerThousandSeconds = 0xDE9D, KeyFrameDistance = 0xDE9E,
        BufferSize = 0xDE9F, EncodingQuality = 0xDEA0, EncodingProfile = 0xDEA1,
    }
}

code_enum! {
    /// Device property codes (PTP 0x50xx, MTP 0xD4xx).
    DevicePropCode {
        Undefined = 0x5000, BatteryLevel = 0x5001, FunctionalMode = 0x5002,
        ImageSize = 0x5003, CompressionSetting = 0x5004, WhiteBalance = 0x5005,
        RgbGain = 0x5006, FNumber = 0x5007, FocalLength = 0x5008, FocusDistance = 0x5009,
        FocusMode = 0x500A, ExposureMeteringMode = 0x500B, FlashMode = 0x500C,
        ExposureTime = 0x500D, ExposureProgramMode = 0x500E, ExposureIndex = 0x500F,
        ExposureBiasCompensation = 0x5010, DateTime = 0x5011, CaptureDelay = 0x5012,
        StillCaptureMode = 0x5013, Contrast = 0x5014, Sharpness = 0x5015,
        DigitalZoom = 0x5016, EffectMode = 0x5017, BurstNumber = 0x5018,
        BurstInterval = 0x5019, TimelapseNumber = 0x501A, TimelapseInterval = 0x501B,
        FocusMeteringMode = 0x501C, UploadUrl = 0x501D, Artist = 0x501E,
        CopyrightInfo = 0x501F,
        SynchronizationPartner = 0xD401, DeviceFriendlyName = 0xD402, Volume = 0xD403,
        SupportedFormatsOrdered = 0xD404, DeviceIcon = 0xD405,
        SessionInitiatorVersionInfo = 0xD406, PerceivedDeviceType = 0xD407,
        PlaybackRate = 0xD410, PlaybackObject = 0xD411, PlaybackContainerIndex = 0xD412,
        PlaybackPosition = 0xD413,
    }
}

code_enum! {
    /// Datatype codes of property values.
    DataType {
        Undef = 0x0000, Int8 = 0x0001, Uint8 = 0x0002, Int16 = 0x0003, Uint16 = 0x0004,
        Int32 = 0x0005, Uint32 = 0x0006, Int64 = 0x0007, Uint64 = 0x0008,
        Int128 = 0x0009, Uint128 = 0x000A,
        Aint8 = 0x4001, Auint8 = 0x4002, Aint16 = 0x4003, Auint16 = 0x4004,
        Aint32 = 0x4005, Auint32 = 0x4006, Aint64 = 0x4007, Auint64 = 0x4008,
        Aint128 = 0x4009, Auint128 = 0x400A, Str = 0xFFFF,
    }
}

impl ResponseCode {
    /// Returns true for `Ok`.
    pub const fn is_ok(self) -> bool {
        matches!(self, Self::Ok)
    }
}

impl DataType {
    /// Returns the element type of an array type, or `None` for scalars and strings.
    pub const fn element(self) -> Option<Self> {
        match self.to_u16() {
            v @ 0x4001..=0x400A => Some(Self::from_u16(v & 0x00FF)),
            _ => None,
        }
    }

    /// Returns the encoded size in bytes of a scalar of this type, or `None` if variable.
    pub const fn scalar_size(self) -> Option<usize> {
        match self {
            Self::Int8 | Self::Uint8 => Some(1),
            Self::Int16 | Self::Uint16 => Some(2),
            Self::Int32 | Self::Uint32 => Some(4),
            Self::Int64 | Self::Uint64 => Some(8),
            Self::Int128 | Self::Uint128 => Some(16),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_code_round_trips_and_unknown_values_survive() {
        for op in OperationCode::ALL {
            assert_eq!(OperationCode::from_u16(op.to_u16()), *op);
        }
        for r in ResponseCode::ALL {
            assert_eq!(ResponseCode::from_u16(r.to_u16()), *r);
        }
        for f in ObjectFormat::ALL {
            assert_eq!(ObjectFormat::from_u16(f.to_u16()), *f);
        }
        for p in ObjectPropCode::ALL {
            assert_eq!(ObjectPropCode::from_u16(p.to_u16()), *p);
        }
        assert_eq!(
            OperationCode::from_u16(0x1234),
            OperationCode::Unknown(0x1234)
        );
        assert_eq!(OperationCode::Unknown(0x1234).to_u16(), 0x1234);
        assert_eq!(EventCode::from_u16(0xFFFF).name(), None);
    }

    #[test]
    fn spec_values_match_mtp_notes_tables() {
        // MTP-NOTES §5.3 / §5.4 / §5.5 / §5.8
        assert_eq!(OperationCode::GetObjectPropList.to_u16(), 0x9805);
        assert_eq!(OperationCode::GetPartialObject64.to_u16(), 0x95C1);
        assert_eq!(ResponseCode::SessionAlreadyOpen.to_u16(), 0x201E);
        assert_eq!(ResponseCode::InvalidDataset.to_u16(), 0xA806);
        assert_eq!(EventCode::ObjectInfoChanged.to_u16(), 0x4007);
        assert_eq!(DataType::Str.to_u16(), 0xFFFF);
        assert_eq!(DataType::Auint16.element(), Some(DataType::Uint16));
        assert_eq!(
            ObjectPropCode::PersistentUniqueObjectIdentifier.to_u16(),
            0xDC41
        );
        assert_eq!(format!("{}", ResponseCode::Ok), "Ok(0x2001)");
    }
}
