package sqlstore

import "time"

// The gorm models mirror the tables of migrations/; they never leave this
// package. Timestamps are set by the store, not by gorm.

type appRow struct {
	Env       string    `gorm:"column:env;primaryKey"`
	Name      string    `gorm:"column:name;primaryKey"`
	Document  string    `gorm:"column:document"`
	Revision  int64     `gorm:"column:revision"`
	CreatedAt time.Time `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt time.Time `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (appRow) TableName() string { return "apps" }

type installationRow struct {
	Env       string    `gorm:"column:env;primaryKey"`
	App       string    `gorm:"column:app;primaryKey"`
	Org       string    `gorm:"column:org;primaryKey"`
	UpdatedAt time.Time `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (installationRow) TableName() string { return "installations" }

type valueRow struct {
	Env       string    `gorm:"column:env;primaryKey"`
	App       string    `gorm:"column:app;primaryKey"`
	Org       string    `gorm:"column:org;primaryKey"`
	UserID    string    `gorm:"column:user_id;primaryKey"`
	Name      string    `gorm:"column:name;primaryKey"`
	Value     string    `gorm:"column:value"`
	Config    string    `gorm:"column:config"`
	UpdatedAt time.Time `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (valueRow) TableName() string { return "setting_values" }

type connectionRow struct {
	Env         string     `gorm:"column:env;primaryKey"`
	App         string     `gorm:"column:app;primaryKey"`
	Org         string     `gorm:"column:org;primaryKey"`
	UserID      string     `gorm:"column:user_id;primaryKey"`
	Config      string     `gorm:"column:config;primaryKey"`
	Status      string     `gorm:"column:status"`
	TokenType   string     `gorm:"column:token_type"`
	Scope       string     `gorm:"column:scope"`
	ExpiresAt   *time.Time `gorm:"column:expires_at"`
	Version     int64      `gorm:"column:version"`
	CreatedAt   time.Time  `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt   time.Time  `gorm:"column:updated_at;autoUpdateTime:false"`
	RefreshedAt *time.Time `gorm:"column:refreshed_at"`
	NextAttempt *time.Time `gorm:"column:next_attempt_at"`
	Refreshing  *time.Time `gorm:"column:refreshing_until"`
	KeepAlive   *time.Time `gorm:"column:keep_alive_at"`
	WorkerLease bool       `gorm:"column:worker_lease"`
	LastError   string     `gorm:"column:last_error"`
	Failures    int        `gorm:"column:failures"`
}

func (connectionRow) TableName() string { return "connections" }

type linkRow struct {
	Env       string     `gorm:"column:env"`
	TokenHash string     `gorm:"column:token_hash;primaryKey"`
	App       string     `gorm:"column:app"`
	Org       string     `gorm:"column:org"`
	UserID    string     `gorm:"column:user_id"`
	Config    string     `gorm:"column:config"`
	ReturnTo  string     `gorm:"column:return_to"`
	Popup     bool       `gorm:"column:popup"`
	ExpiresAt time.Time  `gorm:"column:expires_at"`
	UsedAt    *time.Time `gorm:"column:used_at"`
}

func (linkRow) TableName() string { return "links" }

type stateRow struct {
	Env          string    `gorm:"column:env"`
	StateHash    string    `gorm:"column:state_hash;primaryKey"`
	App          string    `gorm:"column:app"`
	Org          string    `gorm:"column:org"`
	UserID       string    `gorm:"column:user_id"`
	Config       string    `gorm:"column:config"`
	ReturnTo     string    `gorm:"column:return_to"`
	Popup        bool      `gorm:"column:popup"`
	RedirectURI  string    `gorm:"column:redirect_uri"`
	CodeVerifier string    `gorm:"column:code_verifier"`
	ExpiresAt    time.Time `gorm:"column:expires_at"`
	BrowserHash  string    `gorm:"column:browser_hash"`
}

func (stateRow) TableName() string { return "auth_states" }

type apiKeyRow struct {
	Env        string     `gorm:"column:env"`
	ID         string     `gorm:"column:id;primaryKey"`
	Name       string     `gorm:"column:name"`
	Scope      string     `gorm:"column:scope"`
	App        string     `gorm:"column:app"`
	Hash       []byte     `gorm:"column:hash"`
	CreatedAt  time.Time  `gorm:"column:created_at;autoCreateTime:false"`
	RevokedAt  *time.Time `gorm:"column:revoked_at"`
	LastUsedAt *time.Time `gorm:"column:last_used_at"`
}

func (apiKeyRow) TableName() string { return "api_keys" }
